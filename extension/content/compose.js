// Sending: what counts as a send, and the context block put in front of a prompt.
//
// "Sent" is decided by what the site did, not by a key or a click: a prompt is taken as sent when the composer
// no longer holds it AND a new user turn appeared on the page (`observe`, called on every page change). A key
// or click only says a send may follow (a candidate). So:
//   - Enter that the site ignores (Claude while an answer streams) or that another extension turns into a new
//     line (Ctrl+Enter-to-send remappers) leaves no user turn behind: no prompt, no phantom;
//   - a click on the control while it is a stop control (Gemini's send button becomes Stop) is never a send;
//   - Cmd/Ctrl+Enter counts where the adapter says the site sends on it (send_keys);
//   - a remounted old user turn has no candidate text that it matches: nothing is saved twice.
//
// With context on, a send intent is held back (only when no answer is being produced), the context block is
// put in front of the prompt and the site's own send control is used again. Keys are listened to on the
// composer's parent in the capture phase: after window/document listeners (where Enter remappers sit), before
// the editor's own handlers. Whatever goes wrong, the prompt goes out as the person wrote it.
(() => {
  'use strict';

  const ML = (globalThis.MemoryLayer = globalThis.MemoryLayer || {});
  if (ML.compose) return;
  const { page, runtime } = ML;
  const { stripBlock } = globalThis.MemoryLayerBlock;

  const RESEND_WAIT_MS = 400; // how long to wait for the site to enable its send button after our edit
  const CANDIDATE_MS = 20000; // a send intent older than this no longer names the prompt of a new user turn
  const STUCK_CHECK_MS = 1500; // after our own resend: if nothing went out, the block comes off again

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const norm = (s) => String(s || '').replace(/\s+/g, ' ').trim();

  const lay = () => page.layout();
  function composer() {
    const l = lay();
    const found = l && page.find(l.composer);
    return found ? found.el : null;
  }
  const stopShowing = () => {
    const l = lay();
    return Boolean(l && page.find(l.stop));
  };

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
    if (page.isField(box)) {
      box.focus();
      const proto = box instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      box.select();
      let ok;
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
      if (document.execCommand('insertText', false, text) && same(page.composerText(box), text)) return true;
    } catch {
      /* fall through */
    }
    try {
      selectAll(box);
      const data = new DataTransfer();
      data.setData('text/plain', text);
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      if (same(page.composerText(box), text)) return true;
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
    return same(page.composerText(box), text);
  }

  // ------------------------------------------------------------------------------------------- sending

  function pressEnter(box) {
    box.focus();
    const init = { key: 'Enter', code: 'Enter', keyCode: 13, which: 13, bubbles: true, cancelable: true, composed: true };
    box.dispatchEvent(new KeyboardEvent('keydown', init));
    box.dispatchEvent(new KeyboardEvent('keypress', init));
    box.dispatchEvent(new KeyboardEvent('keyup', init));
  }

  /** Sends what is in the box now: the site's own send button when it is usable, else a synthetic Enter. */

  function findSendButton() {
    const l = lay();
    if (!l) return null;
    for (const hook of l.send) {
      const found = page.find([hook]);
      if (found && !disabled(found.el)) return found.el;
    }
    return null;
  }

  const disabled = (button) => !button || button.disabled || button.getAttribute('aria-disabled') === 'true';

  // ------------------------------------------------------------------------------------------- candidates

  let candidate = null; // {prompt, at}: what a send intent found in the composer
  let draft = null; // {prompt, at}: the composer's last non-empty text (a send we did not see start)
  let userTurns = null; // the user turns on the page at the last look
  let bypass = false; // true while we send again ourselves
  let pending = null; // the send held back while context is fetched
  let stuck = null; // a prompt our resend did not get out: the person's next send goes through as is

  function noteDraft() {
    const box = composer();
    const text = stripBlock(page.composerText(box)).trim();
    if (text) draft = { prompt: text, at: Date.now() };
  }

  function intent(prompt) {
    candidate = { prompt, at: Date.now() };
  }

  function fresh(entry) {
    return entry && Date.now() - entry.at < CANDIDATE_MS ? entry : null;
  }

  /** Called on every page change: a new user turn plus a composer that let go of the prompt is a send. */
  function observe() {
    const l = lay();
    if (!l) return;
    const box = composer();
    if (box && box !== observe.box) {
      observe.box = box;
      attach(box);
    }
    const turns = page.findAll(l.user_turn).els;
    if (!userTurns) {
      userTurns = new Set(turns);
      return;
    }
    const added = turns.filter((el) => !userTurns.has(el));
    const grew = turns.length > userTurns.size;
    userTurns = new Set(turns);
    if (!added.length) {
      if (box && document.activeElement === box) noteDraft();
      return;
    }
    const newest = turns[turns.length - 1];
    if (!added.includes(newest)) return; // turns re-rendered higher up (scrolling back, virtualised lists)
    const source = fresh(candidate) || fresh(draft);
    if (!source) return; // no prompt of ours: another conversation opened, or a remount
    const inBox = norm(stripBlock(page.composerText(box)));
    if (inBox && inBox === norm(source.prompt)) {
      userTurns.delete(newest); // the composer still holds it: look again once it lets go (or the intent expires)
      return;
    }
    const shown = norm(stripBlock(newest.innerText || newest.textContent));
    const want = norm(source.prompt);
    const same = shown.includes(want) || (shown.length >= 20 && want.includes(shown));
    if (!same && !(grew && source === fresh(candidate))) return;
    candidate = null;
    draft = null;
    ML.onSent({ prompt: source.prompt, userTurn: newest, layout: l });
  }

  // ------------------------------------------------------------------------------------------- intents

  async function resend(box, clicked) {
    let button = clicked && clicked.isConnected && page.visible(clicked) && !disabled(clicked) ? clicked : null;
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

  function onSendIntent(event, box, button) {
    if (bypass || !box) return;
    if (pending) {
      // A second press while we fetch context: the first one is already on its way.
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    const raw = page.composerText(box);
    const prompt = stripBlock(raw).trim();
    if (!prompt) return;
    intent(prompt);
    if (stuck && stuck.prompt === prompt && Date.now() - stuck.at < 60000) {
      stuck = null; // our own send did not go out: the person's goes through untouched
      return;
    }
    stuck = null;
    // No context while an answer is produced: the site may ignore this send, and a block left in the box would
    // then go out with the next one.
    if (!runtime.contextOn() || stopShowing()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const held = { prompt, raw, box, button, done: false };
    pending = held;
    ML.chip.show('pending');
    const wait = (Number(runtime.view.timeoutMs) || 800) + 150;
    runtime.withTimeout(runtime.message({ type: 'context', prompt }), wait).then((result) => release(held, result));
  }

  async function release(held, result) {
    if (held.done) return;
    held.done = true;
    try {
      const box = held.box.isConnected ? held.box : composer() || held.box;
      let used = null;
      if (result && result.count > 0 && typeof result.block === 'string' && result.block) {
        if (setText(box, result.block + held.prompt)) used = result;
        else setText(box, held.prompt); // the editor refused the text: send the prompt alone
      } else if (held.raw.trim() !== held.prompt) {
        setText(box, held.prompt); // an old block was still in the box
      }
      if (used) ML.chip.show('used', used);
      else ML.chip.show(result && !result.reason ? 'none' : 'unavailable');
      intent(held.prompt);
      await resend(box, held.button);
      setTimeout(() => ML.chip.place(), 60); // the site has emptied (and shrunk) the box
      setTimeout(() => {
        if (!box.isConnected || norm(stripBlock(page.composerText(box))) !== norm(held.prompt)) return;
        // Nothing went out (the site ignored our send): take the block off again and let the next send through.
        if (used) setText(box, held.prompt);
        stuck = { prompt: held.prompt, at: Date.now() };
      }, STUCK_CHECK_MS);
    } finally {
      if (pending === held) pending = null;
    }
  }

  async function sendWithoutMemories() {
    if (pending) {
      const held = pending;
      held.done = true;
      pending = null;
      const box = held.box.isConnected ? held.box : composer() || held.box;
      if (page.composerText(box).trim() !== held.prompt) setText(box, held.prompt);
      ML.chip.show('skipped');
      intent(held.prompt);
      await resend(box, held.button);
      return;
    }
    const box = composer();
    if (!box) return;
    const raw = page.composerText(box);
    const prompt = stripBlock(raw).trim();
    if (!prompt) return;
    if (raw.trim() !== prompt) setText(box, prompt);
    ML.chip.show('skipped');
    intent(prompt);
    await resend(box, null);
  }

  function sendKey(event) {
    if (event.key !== 'Enter' || event.shiftKey || event.altKey) return false;
    const keys = (lay() && lay().send_keys) || ['Enter'];
    const mod = event.ctrlKey || event.metaKey;
    return mod ? keys.includes('Mod+Enter') : keys.includes('Enter');
  }

  function onKeyDown(event) {
    if (event.defaultPrevented || !sendKey(event)) return;
    if (event.isComposing || event.keyCode === 229) return; // an IME is composing: Enter confirms, not sends
    const l = lay();
    const box = l && page.closest(event.target, l.composer);
    if (box) onSendIntent(event, box, null);
  }

  /** Keys on the composer's parent, capture phase (see the top of this file); once per parent element. */
  const attached = new WeakSet();
  function attach(box) {
    const parent = box.parentElement;
    if (!parent || attached.has(parent)) return;
    attached.add(parent);
    parent.addEventListener('keydown', onKeyDown, true);
  }

  function onFocusIn(event) {
    const l = lay();
    const box = l && page.closest(event.target, l.composer);
    if (box) attach(box);
  }

  function onClick(event) {
    if (event.button !== 0) return;
    const l = lay();
    if (!l) return;
    if (page.closest(event.target, l.stop)) return; // a stop control, whatever else it matches
    const button = page.closest(event.target, l.send);
    if (!button || disabled(button) || stopShowing()) return;
    onSendIntent(event, composer(), button);
  }

  function onSubmit(event) {
    const form = event.target;
    const l = lay();
    if (!(form instanceof HTMLFormElement) || !l || stopShowing()) return;
    const found = page.find(l.composer, { root: form });
    if (!found) return;
    const button = page.find(l.send, { root: form });
    onSendIntent(event, found.el, button ? button.el : null);
  }

  function onInput(event) {
    const l = lay();
    if (!l || !page.closest(event.target, l.composer)) return;
    noteDraft();
    if (runtime.contextOn()) ML.chip.draftChanged(stripBlock(page.composerText(composer())).trim().length > 0);
  }

  function listen() {
    window.addEventListener('focusin', onFocusIn, true);
    window.addEventListener('click', onClick, true);
    window.addEventListener('submit', onSubmit, true);
    window.addEventListener('input', onInput, true);
  }

  ML.compose = {
    listen,
    observe,
    composer,
    sendWithoutMemories,
    pending: () => pending,
    reset() {
      userTurns = null;
      candidate = null;
      draft = null;
    },
  };
})();
