// Storage helpers. Everything durable lives in chrome.storage.local (which only the extension's own pages and
// service worker may read, see background.js); content scripts get a token-free summary ("view") through
// chrome.storage.session instead.

export const PROVIDERS = ['chatgpt', 'claude', 'gemini', 'grok'];
export const PROVIDER_NAMES = { chatgpt: 'ChatGPT', claude: 'Claude', gemini: 'Gemini', grok: 'Grok' };

export const DEFAULT_OPTIONS = Object.freeze({
  baseUrl: 'http://127.0.0.1:8000',
  maxTokens: 600,
  timeoutMs: 800,
  contextEnabled: true,
});

export const LIMITS = Object.freeze({
  maxTokens: [50, 4000],
  timeoutMs: [200, 10000],
});

export async function get(key, fallback = undefined) {
  const found = await chrome.storage.local.get(key);
  return found[key] === undefined ? fallback : found[key];
}

export async function set(values) {
  await chrome.storage.local.set(values);
}

export async function remove(keys) {
  await chrome.storage.local.remove(keys);
}

function clampInt(value, [low, high], fallback) {
  const n = Number.parseInt(value, 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(high, Math.max(low, n));
}

/** The options with defaults filled in and numbers kept within their limits. */
export function normalizeOptions(raw = {}) {
  return {
    baseUrl: typeof raw.baseUrl === 'string' && raw.baseUrl ? raw.baseUrl : DEFAULT_OPTIONS.baseUrl,
    maxTokens: clampInt(raw.maxTokens, LIMITS.maxTokens, DEFAULT_OPTIONS.maxTokens),
    timeoutMs: clampInt(raw.timeoutMs, LIMITS.timeoutMs, DEFAULT_OPTIONS.timeoutMs),
    contextEnabled: raw.contextEnabled !== false,
  };
}

export async function getOptions() {
  return normalizeOptions(await get('options', {}));
}

export async function setOptions(patch) {
  const current = await getOptions();
  const next = normalizeOptions({ ...current, ...patch });
  await set({ options: next });
  return next;
}

/** Per-site capture switches: on unless switched off. */
export async function getSites() {
  const stored = await get('sites', {});
  return Object.fromEntries(PROVIDERS.map((p) => [p, stored[p] !== false]));
}

export async function setSite(provider, on) {
  if (!PROVIDERS.includes(provider)) throw new Error(`unknown provider ${provider}`);
  const sites = await getSites();
  sites[provider] = Boolean(on);
  await set({ sites });
  return sites;
}

/** Epoch milliseconds until which capture is paused (0: not paused). */
export async function getPausedUntil() {
  const until = Number(await get('pausedUntil', 0)) || 0;
  return until > Date.now() ? until : 0;
}

/** Serialises async read-modify-write sections that share one storage key. */
export function createLock() {
  let tail = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
}
