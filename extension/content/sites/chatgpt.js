// ChatGPT (chatgpt.com, chat.openai.com). Selectors are tried in order; the first that matches wins.
// The composer is a ProseMirror contenteditable (#prompt-textarea); older layouts used a real <textarea>.
globalThis.MemoryLayerSite = {
  provider: 'chatgpt',
  promptBox: [
    '#prompt-textarea[contenteditable="true"]',
    'div.ProseMirror#prompt-textarea',
    'form div.ProseMirror[contenteditable="true"]',
    'textarea#prompt-textarea',
    'form textarea[name="prompt-textarea"]',
    'main form textarea',
  ],
  sendButton: [
    'button[data-testid="send-button"]',
    '#composer-submit-button:not([data-testid="stop-button"])',
    'button[aria-label="Send prompt"]',
    'button[aria-label="Send message"]',
    'form button[type="submit"]:not([data-testid="stop-button"])',
  ],
  assistantMessage: [
    '[data-message-author-role="assistant"]',
    'article[data-testid^="conversation-turn"] [data-message-author-role="assistant"]',
    'article[data-turn="assistant"]',
    'div.agent-turn div.markdown',
  ],
  // Hints only: an answer is taken as finished when its text stops changing; while one of these is shown the
  // wait is extended (a long pause in a streamed answer, such as a tool call, is then not cut short).
  streaming: ['button[data-testid="stop-button"]', 'button[aria-label="Stop streaming"]', '.result-streaming'],
};
