// What the content scripts know of the extension: the token-free view the service worker publishes (signed in,
// capture and context switches), the site's adapter, messages to the worker, and capture-health counts.
(() => {
  'use strict';

  const ML = (globalThis.MemoryLayer = globalThis.MemoryLayer || {});
  if (ML.runtime) return;

  let view = { signedIn: false, capture: {}, context: false, pausedUntil: 0, timeoutMs: 800, spaces: [], space: {} };
  let site = null; // 'chatgpt' | 'claude' | 'gemini' | 'grok', from the adapter whose hosts name this page
  let adapterVersion = null;

  function message(payload) {
    try {
      return chrome.runtime.sendMessage({ ...payload, provider: site });
    } catch (err) {
      return Promise.reject(err); // the extension was reloaded: this page's script is orphaned
    }
  }

  function withTimeout(promise, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        () => {
          clearTimeout(timer);
          resolve(null);
        },
      );
    });
  }

  /** The adapter for this page among a published set ({site: adapter}), or null. */
  function pick(adapters) {
    if (!adapters || typeof adapters !== 'object') return null;
    for (const candidate of Object.values(adapters)) {
      if (candidate && Array.isArray(candidate.hosts) && candidate.hosts.includes(location.hostname)) return candidate;
    }
    return null;
  }

  function useAdapters(adapters) {
    const chosen = pick(adapters);
    if (!chosen) return;
    site = chosen.site;
    adapterVersion = chosen.version;
    ML.page.setAdapter(chosen);
    if (ML.onAdapter) ML.onAdapter(chosen);
    maybeReady();
  }

  function applyView(next) {
    if (!next || typeof next !== 'object') return;
    view = next;
    gotView = true;
    if (ML.chip) ML.chip.viewChanged(view);
    maybeReady();
  }

  // Three content-free marks on <html> for the end-to-end tests to wait on instead of sleeping: ready (view and
  // adapter in), and how many sends and finished answers this page has seen. Only when the tests ask for them
  // (`testMarks` in session storage): the sites never see them otherwise.
  let gotView = false;
  let marks = false;
  function mark(name, value) {
    if (marks) document.documentElement.dataset[name] = String(value);
  }
  function bump(name) {
    mark(name, Number(document.documentElement.dataset[name] || 0) + 1);
  }
  function maybeReady() {
    if (gotView && site) mark('memoryLayer', 'ready');
  }

  function start() {
    const ask = () => {
      message({ type: 'view' }).then(applyView, () => {});
      message({ type: 'adapters' }).then((found) => found && useAdapters(found.adapters), () => {});
    };
    try {
      chrome.storage.session.get(['view', 'adapters', 'testMarks']).then((found) => {
        marks = Boolean(found && found.testMarks);
        if (found && found.view) applyView(found.view);
        if (found && found.adapters) useAdapters(found.adapters);
        if (!found || !found.view || !found.adapters) ask();
      }, ask);
      chrome.storage.onChanged.addListener((changes, area) => {
        if (area !== 'session') return;
        if (changes.view) applyView(changes.view.newValue);
        if (changes.adapters) useAdapters(changes.adapters.newValue);
      });
    } catch {
      ask();
    }
  }

  /** Counts for capture health: no text, no address, only which site and layout and what happened. */
  function count(layoutName, field, version = adapterVersion) {
    if (!site || !layoutName) return;
    message({ type: 'health', layout: layoutName, field, adapterVersion: version }).catch(() => {});
  }

  ML.runtime = {
    start,
    bump,
    message,
    withTimeout,
    count,
    get site() {
      return site;
    },
    get adapterVersion() {
      return adapterVersion;
    },
    get view() {
      return view;
    },
    captureOn: () => Boolean(site && view.capture && view.capture[site]) && !(view.pausedUntil > Date.now()),
    contextOn: () => Boolean(site && view.context),
  };
})();
