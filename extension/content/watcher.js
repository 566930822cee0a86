// The answer to a sent prompt: found after that prompt's user turn, read without page furniture (the adapter's
// strip list), and saved once, when the site's own completion signal says it is finished.
//
// - "Finished" is the adapter's `complete` condition (ChatGPT's selection id or copy button, Claude's
//   data-is-streaming="false" or its action bar with a <time>, Gemini's action buttons, Grok's action bar with
//   no stop control). Text that stops changing counts only as a last resort (`settle_ms`, counted as a fallback
//   in capture health) and never while the adapter's `streaming` condition holds, so a pause mid-answer (tool
//   call, web search, thinking) never ends a capture early.
// - The answer is looked up again on every change, by position (the answer elements after this turn's user
//   turn), not kept by reference: a remounted or re-rendered bubble is read where it is now, and a turn saves
//   at most one answer.
(() => {
  'use strict';

  const ML = (globalThis.MemoryLayer = globalThis.MemoryLayer || {});
  if (ML.watcher) return;
  const { page, runtime } = ML;

  const CONFIRM_MS = 300; // the completion signal must still hold, and the text be unchanged, this much later
  const DEFAULT_SETTLE_MS = 8000;
  const WATCH_LIMIT_MS = 10 * 60 * 1000;

  const following = (a, b) => Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);

  const watcher = {
    turn: null,
    timer: null,
    scheduled: false,

    /** Watches for the answer to `turn` = {id, prompt, userTurn, layout}. */
    start(turn) {
      this.finish('replaced'); // a previous answer still open is saved as it stands
      this.turn = { ...turn, text: '', lastChange: Date.now(), startedAt: Date.now(), fallback: false, completeSince: 0 };
      this.schedule();
    },

    schedule(delay = 80) {
      if (!this.turn || this.scheduled) return;
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.check();
      }, delay);
    },

    /** The answer elements of this turn: after its user turn and before the next one. */
    answers(lay) {
      const turn = this.turn;
      let anchor = turn.userTurn;
      if (!anchor || !anchor.isConnected) {
        // The user turn was remounted: the newest one that shows this prompt stands for it.
        const users = page.findAll(lay.user_turn).els;
        const want = turn.prompt.replace(/\s+/g, ' ').trim();
        anchor = users.reverse().find((el) => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').includes(want)) || null;
        turn.userTurn = anchor;
      }
      if (!anchor) return { els: [], fallback: false };
      const users = page.findAll(lay.user_turn).els;
      const next = users.find((el) => el !== anchor && following(anchor, el));
      const found = page.findAll(lay.answer);
      const els = found.els.filter((el) => following(anchor, el) && !anchor.contains(el) && (!next || following(el, next)));
      return { els, fallback: found.fallback };
    },

    check() {
      const turn = this.turn;
      if (!turn) return;
      const lay = page.layout() || turn.layout;
      if (Date.now() - turn.startedAt > WATCH_LIMIT_MS) return this.finish('limit');
      const { els, fallback } = this.answers(lay);
      if (!els.length) return undefined; // not there yet (or scrolled out of a virtualised list: keep what we have)
      const parts = els.map((el) => page.answerText(el, lay));
      const text = parts.map((p) => p.text).filter(Boolean).join('\n\n');
      const last = els[els.length - 1];
      if (text && text !== turn.text) {
        turn.text = text;
        turn.lastChange = Date.now();
        turn.fallback = fallback || parts.some((p) => p.fallback);
      }
      const ctx = { layout: lay, answer: last, text: turn.text };
      const complete = Boolean(turn.text) && page.holds(lay.complete, ctx);
      clearTimeout(this.timer);
      if (complete) {
        if (!turn.completeSince) turn.completeSince = Date.now();
        const waited = Date.now() - Math.max(turn.completeSince, turn.lastChange);
        if (waited >= CONFIRM_MS) return this.finish('complete');
        this.timer = setTimeout(() => this.check(), CONFIRM_MS - waited);
        return undefined;
      }
      turn.completeSince = 0;
      if (!turn.text) return undefined;
      // Last resort: quiet text and no sign of streaming.
      const settle = lay.settle_ms || DEFAULT_SETTLE_MS;
      const quiet = Date.now() - turn.lastChange;
      const streaming = lay.streaming ? page.holds(lay.streaming, ctx) : false;
      if (!streaming && quiet >= settle) return this.finish('settled');
      this.timer = setTimeout(() => this.check(), Math.max(250, streaming ? 1000 : settle - quiet));
      return undefined;
    },

    /** Ends this turn: saves its answer once (when there is one) and counts what happened. */
    finish(how) {
      const turn = this.turn;
      if (!turn) return;
      clearTimeout(this.timer);
      this.turn = null;
      const layoutName = turn.layout && turn.layout.name;
      runtime.bump('memoryLayerDone');
      const version = turn.adapterVersion;
      if (!turn.text) {
        runtime.count(layoutName, 'answers_missing', version);
        return;
      }
      runtime.count(layoutName, 'answers_captured', version);
      if (how !== 'complete' || turn.fallback) runtime.count(layoutName, 'fallbacks_used', version);
      runtime
        .message({ type: 'save', kind: 'response', prompt: turn.prompt, response: turn.text, key: `${turn.id}:answer` })
        .catch(() => {});
    },
  };

  ML.watcher = watcher;
})();
