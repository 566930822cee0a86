// Gemini (gemini.google.com). The composer is a Quill editor (.ql-editor) inside <rich-textarea>; answers are
// <message-content> elements inside <model-response>.
globalThis.MemoryLayerSite = {
  provider: 'gemini',
  promptBox: [
    'rich-textarea .ql-editor[contenteditable="true"]',
    'div.ql-editor[contenteditable="true"]',
    '[aria-label="Enter a prompt here"][contenteditable="true"]',
    'div[contenteditable="true"][role="textbox"]',
    'textarea',
  ],
  sendButton: [
    'button.send-button:not(.stop)',
    'button[aria-label="Send message"]',
    'button[mattooltip="Send message"]',
    '.send-button-container button',
  ],
  assistantMessage: [
    'model-response message-content',
    'message-content .markdown',
    '.model-response-text',
    'model-response',
  ],
  streaming: ['button.send-button.stop', 'button[aria-label="Stop response"]', '.response-container .loading'],
};
