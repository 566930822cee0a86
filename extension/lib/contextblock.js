// The block of earlier context the extension puts in front of a prompt, and how to take it off again.
// ONE copy for every part of the extension: the content scripts load this file as a classic script (listed
// first in the manifest's content_scripts), the service worker imports it for its side effect, and the node
// tests import it the same way. It therefore has no `export`: it publishes globalThis.MemoryLayerBlock.
(() => {
  'use strict';

  const BLOCK_START = '[Memory Layer context — from your earlier chats]';
  const BLOCK_END = '[/Memory Layer context]';
  const STRIP = /^\s*\[Memory Layer context — from your earlier chats\][\s\S]*?\[\/Memory Layer context\]\s*/;

  /** Rough token count (about four characters per token for English text). */
  function approxTokens(text) {
    return Math.ceil(text.length / 4);
  }

  /** As many contexts as fit in the token budget, in order; the first one is cut to fit if it alone is too long. */
  function fitBudget(contexts, maxTokens) {
    const out = [];
    let used = 0;
    for (const raw of contexts) {
      if (typeof raw !== 'string') continue;
      const text = raw.replace(/\s+/g, ' ').trim();
      if (!text) continue;
      const cost = approxTokens(text) + 2;
      if (used + cost > maxTokens) {
        if (out.length === 0) out.push(`${text.slice(0, Math.max(40, maxTokens * 4 - 8))}…`);
        break;
      }
      out.push(text);
      used += cost;
    }
    return out;
  }

  function buildBlock(contexts) {
    const lines = contexts.map((c) => `- ${c}`);
    return `${BLOCK_START}\n${lines.join('\n')}\n${BLOCK_END}\n\n`;
  }

  /** The prompt without any context block(s) this extension put at its start. */
  function stripBlock(text) {
    let out = String(text ?? '');
    while (STRIP.test(out)) out = out.replace(STRIP, '');
    return out;
  }

  globalThis.MemoryLayerBlock = Object.freeze({ BLOCK_START, BLOCK_END, approxTokens, fitBudget, buildBlock, stripBlock });
})();
