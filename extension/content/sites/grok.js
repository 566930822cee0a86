// Grok (grok.com). The composer has been a <textarea> and, more recently, a tiptap/ProseMirror contenteditable.
// User and assistant turns are both .message-bubble; the assistant's sit in rows aligned to the start.
globalThis.MemoryLayerSite = {
  provider: 'grok',
  promptBox: [
    'textarea[aria-label="Ask Grok anything"]',
    'div.tiptap.ProseMirror[contenteditable="true"]',
    'form div[contenteditable="true"]',
    'form textarea',
    'textarea',
  ],
  sendButton: [
    'button[type="submit"][aria-label="Submit"]',
    'button[aria-label="Submit"]',
    'button[aria-label="Send"]',
    'form button[type="submit"]',
  ],
  assistantMessage: [
    '[data-testid="assistant-message"]',
    '.items-start .message-bubble',
    'div.message-row.items-start .message-bubble',
  ],
  streaming: ['button[aria-label="Stop model response"]', 'button[aria-label="Stop"]'],
};
