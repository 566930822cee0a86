// Memory Layer content script core, shared by every site. The site file loaded before it (content/sites/*.js)
// sets globalThis.MemoryLayerSite: {provider, promptBox, sendButton, assistantMessage, streaming}, each a list
// of CSS selectors tried in order.
//
// When the person sends (Enter without Shift, or the site's send button), this script, listening in the capture
// phase on window (registered at document_start, so before the site's own handlers):
//   1. reads the prompt before the site clears the box;
//   2. if context is on: holds the event back, asks the service worker for context (bounded by a timeout),
//      puts the marked context block in front of the prompt, shows the chip, and sends again itself;
//   3. reports the prompt (without the block) to the service worker, which saves it;
//   4. watches the page for the new answer and reports it once its text has stopped changing for 1.5 s.
// Whatever goes wrong here (no answer from the worker, an editor that refuses the text), the prompt goes out
// as the person wrote it.
(() => {
  'use strict';

  const site = globalThis.MemoryLayerSite;
  if (!site || globalThis.__memoryLayerCoreLoaded || !chrome.runtime || !chrome.runtime.id) return;
  globalThis.__memoryLayerCoreLoaded = true;

  // Keep identical to lib/contextblock.js (content scripts cannot import modules).
  const BLOCK_RE = /^\s*\[Memory Layer context — from your earlier chats\][\s\S]*?\[\/Memory Layer context\]\s*/;
  const SETTLE_MS = 1500; // an answer is done when its text has not changed for this long
  const STREAMING_GRACE_MS = 120000; // longest wait past SETTLE_MS while the site still shows a streaming hint
  const WATCH_LIMIT_MS = 10 * 60 * 1000;
  const MAX_NEW_ANSWERS = 3; // more new answer elements than this after one send: another conversation opened
  const RESEND_WAIT_MS = 400; // how long to wait for the site to enable its send button after our edit

  function stripBlock(text) {
    let out = String(text ?? '');
    while (BLOCK_RE.test(out)) out = out.replace(BLOCK_RE, '');
    return out;
  }

  // ------------------------------------------------------------------------------------------- view (no tokens)

  let view = { signedIn: false, capture: {}, context: false, pausedUntil: 0, timeoutMs: 800 };

  function applyView(next) {
    if (next && typeof next === 'object') view = next;
  }

  function askView() {
    message({ type: 'view' }).then(applyView, () => {});
  }

  try {
    chrome.storage.session.get('view').then(
      (found) => (found && found.view ? applyView(found.view) : askView()),
      askView,
    );
    chrome.storage.onChanged.addListener((changes, area) => {
      if (area === 'session' && changes.view) applyView(changes.view.newValue);
    });
  } catch {
    askView();
  }

  const captureOn = () => Boolean(view.capture && view.capture[site.provider]) && !(view.pausedUntil > Date.now());
  const contextOn = () => Boolean(view.context);

  function message(payload) {
    try {
      return chrome.runtime.sendMessage({ ...payload, provider: site.provider });
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

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------------------------------------- the page

  function visible(el) {
    return Boolean(el && el.isConnected && (el.offsetWidth || el.offsetHeight || el.getClientRects().length));
  }

  function first(selectors, { root = document, mustBeVisible = true } = {}) {
    for (const selector of selectors) {
      let found;
      try {
        found = root.querySelectorAll(selector);
      } catch {
        continue; // a selector this browser does not understand
      }
      for (const el of found) if (!mustBeVisible || visible(el)) return el;
    }
    return null;
  }

  /**
   * All elements of the first selector that matches anything (so nested fallbacks never double count), without
   * those inside another match (a quoted block inside an answer is part of that answer).
   */
  function allOfFirst(selectors) {
    for (const selector of selectors) {
      let found;
      try {
        found = Array.from(document.querySelectorAll(selector));
      } catch {
        continue;
      }
      if (!found.length) continue;
      const set = new Set(found);
      return found.filter((el) => {
        for (let up = el.parentElement; up; up = up.parentElement) if (set.has(up)) return false;
        return true;
      });
    }
    return [];
  }

  function closestOf(target, selectors) {
    if (!target || typeof target.closest !== 'function') return null;
    for (const selector of selectors) {
      try {
        const hit = target.closest(selector);
        if (hit) return hit;
      } catch {
        /* next */
      }
    }
    return null;
  }

  const findBox = () => first(site.promptBox);
  const isField = (el) => el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement;

  function readText(box) {
    if (!box) return '';
    if (isField(box)) return box.value;
    return (box.innerText || box.textContent || '').replace(/\n+$/, '');
  }

  function disabled(button) {
    return !button || button.disabled || button.getAttribute('aria-disabled') === 'true';
  }

  function findSendButton() {
    for (const selector of site.sendButton) {
      let found;
      try {
        found = document.querySelectorAll(selector);
      } catch {
        continue;
      }
      for (const el of found) if (visible(el) && !disabled(el)) return el;
    }
    return null;
  }

  const same = (a, b) => a.replace(/\s+/g, ' ').trim() === b.replace(/\s+/g, ' ').trim();

  function selectAll(box) {
    box.focus();
    const selection = window.getSelection();
    const range = document.createRange();
    range.selectNodeContents(box);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /**
   * Replaces the box's text the way typing would, so the site's editor (ProseMirror, Quill, React state) sees it:
   * execCommand('insertText') over a full selection; then a synthetic paste; then, for plain fields, the native
   * value setter plus an input event. Returns whether the box now holds the text.
   */
  function setText(box, text) {
    if (isField(box)) {
      box.focus();
      const proto = box instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      box.select();
      let ok = false;
      try {
        ok = document.execCommand('insertText', false, text) && same(box.value, text);
      } catch {
        ok = false;
      }
      if (!ok) {
        Object.getOwnPropertyDescriptor(proto, 'value').set.call(box, text);
        box.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
      }
      return same(box.value, text);
    }
    selectAll(box);
    try {
      if (document.execCommand('insertText', false, text) && same(readText(box), text)) return true;
    } catch {
      /* fall through */
    }
    try {
      selectAll(box);
      const data = new DataTransfer();
      data.setData('text/plain', text);
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      if (same(readText(box), text)) return true;
    } catch {
      /* fall through */
    }
    const lines = text.split('\n').map((line) => {
      const p = document.createElement('p');
      if (line) p.textContent = line;
      else p.appendChild(document.createElement('br'));
      return p;
    });
    box.replaceChildren(...lines);
    box.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
    return same(readText(box), text);
  }

  // ------------------------------------------------------------------------------------------- sending

  let bypass = false; // true while we re-dispatch a send ourselves
  let pending = null; // the send held back while context is fetched
  let stuck = null; // a prompt our re-dispatch did not get sent: the person's next send of it goes through as is

  function pressEnter(box) {
    box.focus();
    const init = { key: 'Enter', code: 'Enter', keyCode: 13, which: 13, bubbles: true, cancelable: true, composed: true };
    box.dispatchEvent(new KeyboardEvent('keydown', init));
    box.dispatchEvent(new KeyboardEvent('keypress', init));
    box.dispatchEvent(new KeyboardEvent('keyup', init));
  }

  /** Sends what is in the box now: the site's own send button when it is usable, else a synthetic Enter. */
  async function resend(box, clicked) {
    let button = clicked && clicked.isConnected && visible(clicked) && !disabled(clicked) ? clicked : null;
    const until = Date.now() + RESEND_WAIT_MS;
    await sleep(20); // let the editor's framework take in the new text
    while (!button && Date.now() < until) {
      button = findSendButton();
      if (!button) await sleep(40);
    }
    bypass = true;
    try {
      if (button) button.click();
      else pressEnter(box);
    } finally {
      bypass = false;
    }
  }

  let lastTurn = { prompt: null, at: 0 };

  function beginTurn(prompt) {
    // One send can reach us twice (Enter, then the form's submit event it causes): the same prompt within a
    // second is the same turn.
    if (lastTurn.prompt === prompt && Date.now() - lastTurn.at < 1000) return;
    lastTurn = { prompt, at: Date.now() };
    watcher.flush(); // a previous answer still settling is saved as it stands
    if (!captureOn()) return;
    const turn = { id: crypto.randomUUID(), prompt };
    message({ type: 'save', kind: 'prompt', prompt, key: turn.id }).catch(() => {});
    watcher.start(turn);
  }

  function onSendIntent(event, box, button) {
    if (bypass || !box) return;
    if (pending) {
      // A second press while we fetch context: the first one is already on its way.
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    const raw = readText(box);
    const prompt = stripBlock(raw).trim();
    if (!prompt) return;
    if (stuck && stuck.prompt === prompt && Date.now() - stuck.at < 60000) {
      // Our own send did not go out (the site ignored the synthetic event): let the person's real one through
      // untouched, block included, instead of holding it back again.
      stuck = null;
      if (captureOn()) beginTurn(prompt);
      return;
    }
    stuck = null;
    if (!contextOn()) {
      if (captureOn()) beginTurn(prompt); // the event goes on untouched
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    const held = { prompt, raw, box, button, done: false };
    pending = held;
    chip.show('pending');
    withTimeout(message({ type: 'context', prompt }), (Number(view.timeoutMs) || 800) + 150).then((result) =>
      release(held, result),
    );
  }

  async function release(held, result) {
    if (held.done) return;
    held.done = true;
    try {
      const box = held.box.isConnected ? held.box : findBox() || held.box;
      let used = null;
      if (result && result.count > 0 && typeof result.block === 'string' && result.block) {
        if (setText(box, result.block + held.prompt)) used = result;
        else setText(box, held.prompt); // the editor refused the text: send the prompt alone
      } else if (held.raw.trim() !== held.prompt) {
        setText(box, held.prompt); // an old block was still in the box
      }
      if (used) chip.show('used', used);
      else chip.show(result && !result.reason ? 'none' : 'unavailable');
      beginTurn(held.prompt);
      await resend(box, held.button);
      setTimeout(() => chip.place(), 60); // the site has emptied (and shrunk) the box
      setTimeout(() => {
        if (box.isConnected && stripBlock(readText(box)).trim() === held.prompt) stuck = { prompt: held.prompt, at: Date.now() };
      }, 1000);
    } finally {
      if (pending === held) pending = null;
    }
  }

  async function sendWithoutMemories() {
    if (pending) {
      const held = pending;
      held.done = true;
      pending = null;
      const box = held.box.isConnected ? held.box : findBox() || held.box;
      if (readText(box).trim() !== held.prompt) setText(box, held.prompt);
      chip.show('skipped');
      beginTurn(held.prompt);
      await resend(box, held.button);
      return;
    }
    const box = findBox();
    if (!box) return;
    const raw = readText(box);
    const prompt = stripBlock(raw).trim();
    if (!prompt) return;
    if (raw.trim() !== prompt) setText(box, prompt);
    chip.show('skipped');
    beginTurn(prompt);
    await resend(box, null);
  }

  function onKeyDown(event) {
    if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229) return; // an IME is composing: Enter confirms, not sends
    onSendIntent(event, closestOf(event.target, site.promptBox), null);
  }

  function onClick(event) {
    if (event.button !== 0) return;
    const button = closestOf(event.target, site.sendButton);
    if (!button || disabled(button)) return;
    onSendIntent(event, findBox(), button);
  }

  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const box = first(site.promptBox, { root: form });
    if (!box) return;
    // Resending clicks the form's send button, which submits the form again with `bypass` set.
    onSendIntent(event, box, first(site.sendButton, { root: form }));
  }

  function onInput(event) {
    if (!contextOn() || !closestOf(event.target, site.promptBox)) return;
    chip.draftChanged(stripBlock(readText(findBox())).trim().length > 0);
  }

  window.addEventListener('keydown', onKeyDown, true);
  window.addEventListener('click', onClick, true);
  window.addEventListener('submit', onSubmit, true);
  window.addEventListener('input', onInput, true);
  window.addEventListener('pagehide', () => watcher.flush());

  // ------------------------------------------------------------------------------------------- answers

  function answerText(el) {
    return (el.innerText || el.textContent || '').trim();
  }

  const watcher = {
    turn: null,
    before: null,
    beforeTexts: null,
    text: '',
    lastChange: 0,
    startedAt: 0,
    timer: null,
    observer: null,
    scheduled: false,

    start(turn) {
      this.turn = turn;
      const existing = allOfFirst(site.assistantMessage);
      this.before = new Set(existing);
      this.beforeTexts = new Set(existing.map(answerText));
      this.text = '';
      this.lastChange = Date.now();
      this.startedAt = Date.now();
      this.observer = new MutationObserver(() => this.schedule());
      this.observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });
    },

    schedule() {
      if (this.scheduled) return;
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.check();
      }, 100);
    },

    /** The newest assistant message that was not on the page when the prompt was sent, and how many are new. */
    current() {
      const fresh = allOfFirst(site.assistantMessage).filter((el) => !this.before.has(el));
      return { el: fresh.length ? fresh[fresh.length - 1] : null, count: fresh.length };
    },

    check() {
      if (!this.turn) return;
      if (Date.now() - this.startedAt > WATCH_LIMIT_MS) {
        this.flush();
        return;
      }
      const { el, count } = this.current();
      if (count > MAX_NEW_ANSWERS) {
        // Many new answers at once: the person opened another conversation; this turn's answer is not here.
        this.stop();
        return;
      }
      if (!el) return;
      const text = answerText(el);
      if (text !== this.text) {
        this.text = text;
        this.lastChange = Date.now();
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.settle(), SETTLE_MS);
      }
    },

    settle() {
      this.check();
      const quiet = Date.now() - this.lastChange;
      if (quiet < SETTLE_MS) {
        this.timer = setTimeout(() => this.settle(), SETTLE_MS - quiet);
        return;
      }
      if (first(site.streaming || []) && quiet < STREAMING_GRACE_MS) {
        this.timer = setTimeout(() => this.settle(), SETTLE_MS);
        return;
      }
      this.flush();
    },

    flush() {
      if (!this.turn) return;
      const { turn, text } = this;
      const known = this.beforeTexts.has(text); // a re-rendered old answer, not a new one
      this.stop();
      if (text && !known) {
        message({ type: 'save', kind: 'response', prompt: turn.prompt, response: text, key: `${turn.id}:answer` }).catch(
          () => {},
        );
      }
    },

    stop() {
      clearTimeout(this.timer);
      if (this.observer) this.observer.disconnect();
      this.observer = null;
      this.turn = null;
      this.before = null;
      this.beforeTexts = null;
      this.text = '';
    },
  };

  // ------------------------------------------------------------------------------------------- the chip

  const CHIP_CSS = `
    :host { all: initial; }
    .chip { position: fixed; z-index: 2147483646; display: flex; gap: 6px; align-items: center; max-width: 420px;
      font: 12px/1.3 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f1b2e; background: #f3efff;
      border: 1px solid #c9b8ff; border-radius: 999px; padding: 3px 4px 3px 10px;
      box-shadow: 0 2px 8px rgba(40, 20, 90, .15); }
    .chip[hidden] { display: none; }
    button { font: inherit; cursor: pointer; border: 0; border-radius: 999px; padding: 3px 8px; background: transparent;
      color: inherit; }
    .count { font-weight: 600; padding-left: 0; }
    .count:disabled { cursor: default; font-weight: 500; }
    .skip { background: #6b4dff; color: white; }
    .skip[hidden], .close[hidden] { display: none; }
    .close { padding: 2px 7px; color: #5b5575; }
    .preview { position: absolute; bottom: calc(100% + 6px); right: 0; width: 380px; max-height: 260px; overflow: auto;
      background: white; border: 1px solid #c9b8ff; border-radius: 10px; padding: 8px 10px;
      box-shadow: 0 6px 20px rgba(40, 20, 90, .2); }
    .preview[hidden] { display: none; }
    .preview h2 { font-size: 12px; margin: 0 0 6px; color: #5b5575; font-weight: 600; }
    .preview ul { margin: 0; padding-left: 16px; }
    .preview li { margin: 0 0 6px; white-space: pre-wrap; word-break: break-word; }
  `;

  const chip = {
    host: null,
    els: null,
    state: 'hidden',
    hideTimer: null,
    placeTimer: null,

    build() {
      if (this.host && this.host.isConnected) return;
      const host = document.createElement('div');
      host.id = 'memory-layer-chip';
      const root = host.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = CHIP_CSS;
      const box = document.createElement('div');
      box.className = 'chip';
      box.hidden = true;
      box.setAttribute('role', 'status');
      const count = document.createElement('button');
      count.type = 'button';
      count.className = 'count';
      const skip = document.createElement('button');
      skip.type = 'button';
      skip.className = 'skip';
      skip.textContent = 'Send without memories';
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'close';
      close.title = 'Hide';
      close.textContent = '×';
      const preview = document.createElement('div');
      preview.className = 'preview';
      preview.hidden = true;
      const heading = document.createElement('h2');
      heading.textContent = 'Added in front of your prompt';
      const list = document.createElement('ul');
      preview.append(heading, list);
      box.append(count, skip, close, preview);
      root.append(style, box);
      // Keep the focus (and the caret) in the site's editor.
      box.addEventListener('mousedown', (event) => event.preventDefault());
      box.addEventListener('click', (event) => event.stopPropagation());
      count.addEventListener('click', () => {
        if (this.state === 'used') preview.hidden = !preview.hidden;
      });
      skip.addEventListener('click', () => sendWithoutMemories());
      close.addEventListener('click', () => this.show('hidden'));
      (document.body || document.documentElement).appendChild(host);
      this.host = host;
      this.els = { box, count, skip, close, preview, list };
    },

    show(state, result = null) {
      this.build();
      clearTimeout(this.hideTimer);
      this.state = state;
      const { box, count, skip, close, preview, list } = this.els;
      if (state === 'hidden') {
        box.hidden = true;
        preview.hidden = true;
        clearInterval(this.placeTimer);
        this.placeTimer = null;
        return;
      }
      preview.hidden = true;
      count.disabled = state !== 'used';
      skip.hidden = !(state === 'pending' || state === 'draft');
      close.hidden = state !== 'used';
      if (state === 'draft') count.textContent = 'Memory Layer: memories on';
      else if (state === 'pending') count.textContent = 'Looking for memories…';
      else if (state === 'none') count.textContent = 'No related memories';
      else if (state === 'unavailable') count.textContent = 'Memories unavailable: sent as written';
      else if (state === 'skipped') count.textContent = 'Sent without memories';
      else if (state === 'used') {
        const n = result.count;
        count.textContent = `${n} ${n === 1 ? 'memory' : 'memories'} used`;
        count.title = 'Show what was added';
        list.replaceChildren(
          ...(result.contexts || []).map((text) => {
            const li = document.createElement('li');
            li.textContent = text;
            return li;
          }),
        );
      }
      box.hidden = false;
      box.dataset.state = state;
      this.place();
      if (!this.placeTimer) this.placeTimer = setInterval(() => this.place(), 250);
      if (state === 'none' || state === 'skipped' || state === 'unavailable') this.hideTimer = setTimeout(() => this.show('hidden'), 2500);
    },

    draftChanged(hasText) {
      if (pending) return;
      if (hasText && this.state !== 'draft' && this.state !== 'pending') {
        this.show('draft');
      } else if (!hasText && this.state === 'draft') this.show('hidden');
    },

    place() {
      if (!this.els || this.els.box.hidden) return;
      const anchor = findBox();
      const { box } = this.els;
      if (!anchor) {
        box.style.right = '16px';
        box.style.bottom = '16px';
        box.style.left = box.style.top = '';
        return;
      }
      const rect = anchor.getBoundingClientRect();
      const height = box.offsetHeight || 28;
      const top = rect.top - height - 8 >= 4 ? rect.top - height - 8 : rect.bottom + 8;
      box.style.top = `${Math.round(top)}px`;
      box.style.right = `${Math.max(4, Math.round(window.innerWidth - rect.right))}px`;
      box.style.left = box.style.bottom = '';
    },
  };
})();
