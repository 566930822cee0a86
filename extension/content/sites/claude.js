// Claude (claude.ai). The composer is a ProseMirror (tiptap) contenteditable; answers sit in a container that
// carries data-is-streaming while they are written.
globalThis.MemoryLayerSite = {
  provider: 'claude',
  promptBox: [
    'div.ProseMirror[contenteditable="true"]',
    '[data-testid="chat-input"] [contenteditable="true"]',
    'fieldset [contenteditable="true"]',
    'div[contenteditable="true"][role="textbox"]',
    'fieldset textarea',
  ],
  sendButton: [
    'button[aria-label="Send message"]',
    'button[aria-label="Send Message"]',
    'button[data-testid="send-button"]',
    'fieldset button[type="submit"]',
  ],
  assistantMessage: [
    '[data-is-streaming] .font-claude-response',
    '.font-claude-response',
    '.font-claude-message',
    '[data-testid="assistant-message"]',
    '[data-is-streaming]',
  ],
  streaming: ['[data-is-streaming="true"]', 'button[aria-label="Stop response"]', 'button[aria-label="Stop Response"]'],
};
