// The content scripts' entry point (loaded last): reads the site's adapter, watches the page, and ties a sent
// prompt to its answer. Files, in the order the manifest loads them:
//   lib/contextblock.js  the context block's rules (shared with the service worker)
//   content/page.js      the page through the adapter: hooks, conditions, clean text
//   content/runtime.js   the view, the adapter, messages to the service worker, capture-health counts
//   content/chip.js      the chip beside the prompt box
//   content/watcher.js   the answer watcher
//   content/compose.js   sends: intents, the context block, "sent" decided by what the site did
(() => {
  'use strict';

  const ML = globalThis.MemoryLayer;
  if (!ML || ML.started || !chrome.runtime || !chrome.runtime.id) return;
  ML.started = true;
  const { compose, runtime, watcher } = ML;

  let lastPrompt = { text: null, at: 0 };

  ML.onSent = ({ prompt, userTurn, layout }) => {
    // One send seen twice (a remount right after the send) is the same turn.
    if (lastPrompt.text === prompt && lastPrompt.userTurn === userTurn) return;
    lastPrompt = { text: prompt, userTurn, at: Date.now() };
    runtime.bump('memoryLayerSent');
    if (!runtime.captureOn()) return;
    runtime.count(layout.name, 'prompts_seen');
    // Counted against the layout and adapter version that saw the prompt, even if a new adapter arrives meanwhile.
    const turn = { id: crypto.randomUUID(), prompt, userTurn, layout, adapterVersion: runtime.adapterVersion };
    runtime.message({ type: 'save', kind: 'prompt', prompt, key: turn.id }).catch(() => {});
    watcher.start(turn);
  };

  ML.onAdapter = () => {
    // A new adapter (a fix from the server) applies at once, also to the answer being waited for.
    compose.reset();
    compose.observe();
    watcher.schedule(0);
  };

  let scheduled = false;
  function changed() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      compose.observe();
      watcher.schedule(150); // reading a long answer costs more than noticing a send: a few times a second is enough
    }, 50);
  }

  const observer = new MutationObserver(changed);
  observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true });
  compose.listen();
  runtime.start();
  window.addEventListener('pagehide', () => watcher.finish('pagehide'));
})();
