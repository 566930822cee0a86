// Spaces: which of the person's spaces (Work, Personal, …) each site saves into and reads context from.
//
// Stored in chrome.storage.local:
//   spaces       {account, fetchedAt, supported, list: [{id, name, isDefault, memories}]}  (GET /me/spaces, cached)
//   siteSpaces   {provider: spaceId}   the person's choice per site; a site without one uses the default space
//   spaceNotice  {text, at}            a space that no longer exists, told to the person once (popup or chip)
// Every save and context call carries `X-Memory-Space: <id>` for its site's space; a queued save keeps the id it
// was captured with, so a retry after a switch still goes to the space the turn was captured in.

import * as store from './storage.js';

export const SPACES_KEY = 'spaces';
export const CHOICES_KEY = 'siteSpaces';
export const NOTICE_KEY = 'spaceNotice';
export const HEADER = 'X-Memory-Space';
export const TTL_MS = 5 * 60 * 1000;

/** `GET /me/spaces`'s answer (a list, or {spaces: [...]}/{results: [...]}) as [{id, name, isDefault, memories}]. */
export function normalizeList(data) {
  const raw = Array.isArray(data) ? data : data && (data.spaces || data.results);
  if (!Array.isArray(raw)) return null;
  const list = raw
    .filter((s) => s && (typeof s.id === 'string' || typeof s.id === 'number') && typeof s.name === 'string')
    .map((s) => ({
      id: String(s.id),
      name: s.name,
      isDefault: s.is_default === true,
      memories: Number.isFinite(s.memories) ? s.memories : null,
    }));
  if (list.length && !list.some((s) => s.isDefault)) list[0].isDefault = true;
  return list;
}

export function defaultOf(list) {
  return (list || []).find((s) => s.isDefault) || null;
}

/**
 * The space a site uses: its chosen space when that is still in the list, else the default space. Null when the
 * list is unknown (an older server, or not fetched yet): the call then goes without the header and the server
 * uses the person's default space.
 */
export function resolve(provider, choices, list) {
  if (!Array.isArray(list) || !list.length) return null;
  const chosen = choices && choices[provider];
  return list.find((s) => s.id === chosen) || defaultOf(list);
}

/** The header to send for a space id (none for null). */
export function headerFor(spaceId) {
  return spaceId ? { [HEADER]: String(spaceId) } : {};
}

/** The server's answer for a space id that is not (or no longer) one of the person's. */
export function isSpaceGone(result) {
  return Boolean(result && result.status === 404 && /space not found/i.test(String(result.error || '')));
}

export async function getCached() {
  return store.get(SPACES_KEY, null);
}

/** The cached list for this account, or null. */
export async function listFor(account) {
  const cached = await getCached();
  return cached && cached.account === account ? cached.list : null;
}

export async function getChoices() {
  return store.get(CHOICES_KEY, {});
}

function dropChoice(choices, id) {
  return Object.fromEntries(Object.entries(choices).filter(([, chosen]) => chosen !== id));
}

/** Sets the site's space (null or the default space's id: follow the default). Refuses an id not in the list. */
export async function choose(provider, spaceId, list) {
  if (!store.PROVIDERS.includes(provider)) throw new Error(`unknown provider ${provider}`);
  const choices = await getChoices();
  if (spaceId === null || spaceId === undefined || spaceId === '') delete choices[provider];
  else {
    const found = (list || []).find((s) => s.id === String(spaceId));
    if (!found) throw new Error('That space is not one of yours (reopen the popup to refresh the list).');
    if (found.isDefault) delete choices[provider];
    else choices[provider] = found.id;
  }
  await store.set({ [CHOICES_KEY]: choices });
  return choices;
}

/**
 * Fetches the list with `fetchList()` (an api.call-like answer) unless the cached one for `account` is fresh.
 * A 404 without "space not found" is an older server without spaces: no header is sent then. A failure keeps the
 * last known list. Choices pointing at spaces that disappeared are forgotten (and told once).
 */
export async function refresh(account, fetchList, { force = false, now = Date.now() } = {}) {
  const cached = await getCached();
  const mine = cached && cached.account === account ? cached : null;
  if (mine && !force && now - mine.fetchedAt < TTL_MS) return mine;
  const result = await fetchList();
  let next;
  const list = result.ok ? normalizeList(result.data) : null;
  if (list) next = { account, fetchedAt: now, supported: true, list };
  else if (result.status === 404 && !isSpaceGone(result)) next = { account, fetchedAt: now, supported: false, list: [] };
  else return mine || { account, fetchedAt: 0, supported: true, list: [], error: result.error || 'no spaces in the answer' };
  await store.set({ [SPACES_KEY]: next });
  if (next.supported) {
    const choices = await getChoices();
    const before = mine ? mine.list : [];
    for (const id of new Set(Object.values(choices))) {
      if (list.some((s) => s.id === id)) continue;
      // Known to this account before: it was deleted, and the person hears of it. Else (another account signed
      // in since the choice was made) the choice is simply dropped.
      if (mine) await forget(id, [...list, ...before.filter((s) => s.id === id)]);
      else await store.set({ [CHOICES_KEY]: dropChoice(await getChoices(), id) });
    }
  }
  return next;
}

/**
 * A space that no longer exists: every site that used it falls back to the default space, the cached list drops
 * it, and the person is told once. Answers the default space (or null when unknown).
 */
export async function forget(spaceId, list = null) {
  const id = String(spaceId);
  const cached = await getCached();
  const known = list || (cached ? cached.list : []);
  const gone = known.find((s) => s.id === id);
  const remaining = known.filter((s) => s.id !== id);
  if (cached && cached.list.some((s) => s.id === id)) await store.set({ [SPACES_KEY]: { ...cached, list: remaining } });
  await store.set({ [CHOICES_KEY]: dropChoice(await getChoices(), id) });
  const fallback = defaultOf(remaining);
  const name = gone ? `“${gone.name}”` : 'A space you chose';
  const to = fallback ? `your default space, “${fallback.name}”` : 'your default space';
  await store.set({ [NOTICE_KEY]: { text: `${name} no longer exists: saving into ${to} instead.`, at: Date.now() } });
  return fallback;
}

/** The notice, once: answered and cleared. */
export async function takeNotice() {
  const notice = await store.get(NOTICE_KEY, null);
  if (notice) await store.remove(NOTICE_KEY);
  return notice;
}
