// Reading the page through the site's adapter (adapters/*.json, chosen and validated by the service worker):
// finding the composer and controls, asking the adapter's conditions, and reading an answer's clean text.
// Shared by the other content scripts through globalThis.MemoryLayer (the extension's isolated world).
(() => {
  'use strict';

  const ML = (globalThis.MemoryLayer = globalThis.MemoryLayer || {});
  if (ML.page) return;

  let adapter = null;
  const badSelectors = new Set(); // selectors this browser refused: skipped quietly after the first time

  function query(root, css) {
    if (badSelectors.has(css)) return [];
    try {
      return root.querySelectorAll(css);
    } catch {
      badSelectors.add(css);
      return [];
    }
  }

  function visible(el) {
    return Boolean(el && el.isConnected && (el.offsetWidth || el.offsetHeight || el.getClientRects().length));
  }

  const cssOf = (hook) => (typeof hook === 'string' ? hook : hook.css);

  /** The hook's extra checks beyond its selector. */
  function passes(el, hook) {
    if (typeof hook === 'string' || !hook.same_attr) return true;
    const [a, b] = hook.same_attr;
    const va = el.getAttribute(a);
    return va !== null && va === el.getAttribute(b);
  }

  function matches(el, hook) {
    if (!el || el.nodeType !== 1) return false;
    const css = cssOf(hook);
    if (badSelectors.has(css)) return false;
    try {
      return el.matches(css) && passes(el, hook);
    } catch {
      badSelectors.add(css);
      return false;
    }
  }

  const isFallback = (hook) => typeof hook === 'object' && Boolean(hook.fallback || hook.lang);

  /** The first element a list of hooks finds (visible ones only, unless told otherwise), with the hook used. */
  function find(hooks, { root = document, mustBeVisible = true } = {}) {
    for (const hook of hooks || []) {
      const css = cssOf(hook);
      const found = css === ':scope' ? [root] : query(root, css);
      for (const el of found) if (passes(el, hook) && (!mustBeVisible || visible(el))) return { el, hook, fallback: isFallback(hook) };
    }
    return null;
  }

  /** Elements of the first hook that finds any, without those nested in another of them. */
  function topLevel(found, root) {
    const set = new Set(found);
    return found.filter((el) => {
      for (let up = el.parentElement; up && up !== root; up = up.parentElement) if (set.has(up)) return false;
      return true;
    });
  }

  function findAll(hooks, root = document) {
    for (const hook of hooks || []) {
      const css = cssOf(hook);
      const found = (css === ':scope' ? [root] : Array.from(query(root, css))).filter((el) => passes(el, hook));
      if (found.length) return { els: topLevel(found, root), hook, fallback: isFallback(hook) };
    }
    return { els: [], hook: null, fallback: false };
  }

  function closest(target, hooks) {
    if (!target || typeof target.closest !== 'function') return null;
    for (const hook of hooks || []) {
      const css = cssOf(hook);
      if (badSelectors.has(css)) continue;
      try {
        for (let el = target.closest(css); el; el = el.parentElement ? el.parentElement.closest(css) : null) {
          if (passes(el, hook)) return el;
        }
      } catch {
        badSelectors.add(css);
      }
    }
    return null;
  }

  // ------------------------------------------------------------------------------------------- conditions

  /** Asks one of the adapter's conditions; `ctx` = {layout, answer, text}. Unknown keys answer false. */
  function holds(cond, ctx, depth = 0) {
    if (!cond || typeof cond !== 'object' || depth > 8) return false;
    const [key] = Object.keys(cond);
    const value = cond[key];
    const answer = ctx.answer;
    switch (key) {
      case 'all':
        return value.every((c) => holds(c, ctx, depth + 1));
      case 'any':
        return value.some((c) => holds(c, ctx, depth + 1));
      case 'not':
        return !holds(value, ctx, depth + 1);
      case 'always':
        return value === true;
      case 'page_has':
        return Boolean(find([value]));
      case 'control':
        return Boolean(ctx.layout && find(ctx.layout[value]));
      case 'answer_is':
        return Boolean(answer && matches(answer, value));
      case 'answer_has':
        return Boolean(answer && find([value], { root: answer, mustBeVisible: false }));
      case 'answer_in':
        return Boolean(answer && closest(answer.parentElement, [value]));
      case 'after_answer':
        return Boolean(answer && ctx.layout && afterAnswer(answer, value, ctx.layout));
      case 'body_text':
        return Boolean(ctx.text) === value;
      default:
        return false;
    }
  }

  /** An element matching `hook` that follows the answer, within its next three ancestors, before the next turn. */
  function afterAnswer(answer, hook, lay) {
    const follows = (a, b) => Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    // The first turn (answer or user) after this answer bounds where its action bar can be.
    const next = findAll(lay.answer)
      .els.concat(findAll(lay.user_turn).els)
      .filter((turn) => turn !== answer && !turn.contains(answer) && !answer.contains(turn) && follows(answer, turn))
      .sort((a, b) => (follows(a, b) ? -1 : 1))[0];
    let scope = answer.parentElement;
    for (let i = 0; i < 3 && scope; i += 1, scope = scope.parentElement) {
      for (const el of query(scope, cssOf(hook))) {
        if (!passes(el, hook) || answer.contains(el) || !follows(answer, el)) continue;
        if (next && (next.contains(el) || !follows(el, next))) continue; // it belongs to a later turn
        return el;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------------------------------- layouts

  function layout() {
    if (!adapter) return null;
    for (const candidate of adapter.layouts) if (holds(candidate.detect, { layout: candidate })) return candidate;
    return null;
  }

  // ------------------------------------------------------------------------------------------- text

  const isField = (el) => el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement;

  function composerText(box) {
    if (!box) return '';
    if (isField(box)) return box.value;
    return (box.innerText || box.textContent || '').replace(/\n+$/, '');
  }

  const PARAGRAPH = new Set(['P', 'PRE', 'BLOCKQUOTE', 'TABLE', 'UL', 'OL', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HR']);

  /**
   * The element's text as a reader sees it, without what the strip list names (screen-reader headings, thinking
   * panels, status rows, action bars, times). A walk of the live tree, because innerText cannot skip elements.
   */
  function cleanText(root, strip) {
    const out = [];
    const skip = (el) => (strip || []).some((css) => matches(el, css));
    const walk = (node, pre) => {
      if (node.nodeType === Node.TEXT_NODE) {
        out.push(pre ? node.data : node.data.replace(/\s+/g, ' '));
        return;
      }
      if (node.nodeType !== Node.ELEMENT_NODE || skip(node)) return;
      const style = getComputedStyle(node);
      if (style.display === 'none' || style.visibility === 'hidden') return;
      if (node.tagName === 'BR') {
        out.push('\n');
        return;
      }
      const block = !style.display.startsWith('inline') && style.display !== 'contents';
      const gap = PARAGRAPH.has(node.tagName) ? '\n\n' : '\n';
      if (block) out.push(gap);
      const keep = pre || style.whiteSpace.startsWith('pre') || style.whiteSpace === 'break-spaces';
      for (const child of node.childNodes) walk(child, keep);
      if (block) out.push(gap);
    };
    walk(root, false);
    return out
      .join('')
      .replace(/[ \t]*\n[ \t]*/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }

  /** The answer's text: its body element(s) (or the answer itself), cleaned by the layout's strip list. */
  function answerText(answer, lay) {
    const strip = lay.strip || [];
    const insideStripped = (el) => {
      for (let up = el.parentElement; up && up !== answer; up = up.parentElement) if (strip.some((css) => matches(up, css))) return true;
      return false;
    };
    for (const hook of lay.answer_body) {
      const css = cssOf(hook);
      const found = css === ':scope' ? [answer] : Array.from(query(answer, css)).filter((el) => passes(el, hook) && !insideStripped(el));
      if (!found.length) continue;
      const text = topLevel(found, answer)
        .map((el) => cleanText(el, strip))
        .filter(Boolean)
        .join('\n\n');
      return { text, fallback: isFallback(hook) };
    }
    return { text: '', fallback: false };
  }

  ML.page = {
    setAdapter(next) {
      adapter = next || null;
    },
    get adapter() {
      return adapter;
    },
    layout,
    find,
    findAll,
    closest,
    matches,
    holds,
    visible,
    isField,
    composerText,
    cleanText,
    answerText,
  };
})();
