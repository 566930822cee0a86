// The block of earlier context the extension puts in front of a prompt, and how to take it off again.
// content/core.js carries a copy of BLOCK_START/BLOCK_END and stripBlock (content scripts cannot import modules):
// keep them identical.

export const BLOCK_START = '[Memory Layer context — from your earlier chats]';
export const BLOCK_END = '[/Memory Layer context]';

const STRIP = /^\s*\[Memory Layer context — from your earlier chats\][\s\S]*?\[\/Memory Layer context\]\s*/;

/** Rough token count (about four characters per token for English text). */
export function approxTokens(text) {
  return Math.ceil(text.length / 4);
}

/** As many contexts as fit in the token budget, in order; the first one is cut to fit if it alone is too long. */
export function fitBudget(contexts, maxTokens) {
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

export function buildBlock(contexts) {
  const lines = contexts.map((c) => `- ${c}`);
  return `${BLOCK_START}\n${lines.join('\n')}\n${BLOCK_END}\n\n`;
}

/** The prompt without any context block(s) this extension put at its start. */
export function stripBlock(text) {
  let out = String(text ?? '');
  while (STRIP.test(out)) out = out.replace(STRIP, '');
  return out;
}
