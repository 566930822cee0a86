// Memory Layer service worker: the only place that talks to the server.
//
// Content scripts send {type: 'context'} before a prompt goes out and {type: 'save'} for each prompt and answer;
// the popup and options pages send the account and queue commands. Every save goes through the outbox
// (lib/queue.js) so that nothing is lost when the server is down.

import './lib/contextblock.js'; // publishes globalThis.MemoryLayerBlock (one copy, shared with the content scripts)
import * as adapters from './lib/adapters.js';
import { call, normalizeBaseUrl } from './lib/api.js';
import * as auth from './lib/auth.js';
import * as health from './lib/health.js';
import * as queue from './lib/queue.js';
import * as spaces from './lib/spaces.js';
import * as store from './lib/storage.js';

const { buildBlock, fitBudget, stripBlock } = globalThis.MemoryLayerBlock;

const SETTINGS_TTL_MS = 5 * 60 * 1000;
const ADAPTERS_ALARM = 'memory-layer-adapters';
const ADAPTERS_EVERY_MIN = 60;
const MAX_QUERY_CHARS = 2000; // the server's MEMORY_MAX_QUERY_CHARS default
const MAX_TEXT_CHARS = 50000; // the server's MEMORY_MAX_TEXT_CHARS default
const ALL_ON = Object.freeze({
  capture: true,
  context: true,
  providers: Object.fromEntries(store.PROVIDERS.map((p) => [p, true])),
});
const SITE_HOSTS = {
  'chatgpt.com': 'chatgpt',
  'chat.openai.com': 'chatgpt',
  'claude.ai': 'claude',
  'gemini.google.com': 'gemini',
  'grok.com': 'grok',
};

// Tokens stay out of reach of content scripts; the session area carries what they may know.
chrome.storage.local.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' }).catch(() => {});
// (Firefox has no setAccessLevel: its content scripts then ask the worker by message instead.)
const sessionReady = Promise.resolve()
  .then(() => chrome.storage.session.setAccessLevel({ accessLevel: 'TRUSTED_AND_UNTRUSTED_CONTEXTS' }))
  .catch((err) => console.warn('Memory Layer: session storage stays private to the extension:', err));

// ---------------------------------------------------------------------------------------------- server settings

function mergeSettings(value) {
  const providers = { ...ALL_ON.providers };
  if (value && typeof value.providers === 'object' && value.providers) {
    for (const p of store.PROVIDERS) if (value.providers[p] === false) providers[p] = false;
  }
  return {
    capture: !(value && value.capture === false),
    context: !(value && value.context === false),
    providers,
  };
}

let settingsFetch = null;

/** /me/settings, fetched at most every 5 minutes; a 404 (older server) means everything is on. */
function refreshServerSettings({ force = false } = {}) {
  if (settingsFetch) return settingsFetch;
  settingsFetch = (async () => {
    const current = await auth.getAuth();
    if (!current) return ALL_ON;
    const cached = await store.get('serverSettings', null);
    const fresh = cached && cached.account === auth.accountKey(current) && Date.now() - cached.fetchedAt < SETTINGS_TTL_MS;
    if (fresh && !force) return cached.value;
    const result = await auth.authedCall('/me/settings', { timeoutMs: 5000 });
    let value;
    let supported = true;
    if (result.ok && result.data) value = mergeSettings(result.data);
    else if (result.status === 404) {
      value = ALL_ON;
      supported = false;
    } else value = cached && cached.account === auth.accountKey(current) ? cached.value : ALL_ON; // keep the last known
    await store.set({ serverSettings: { account: auth.accountKey(current), fetchedAt: Date.now(), value, supported } });
    return value;
  })().finally(() => {
    settingsFetch = null;
  });
  return settingsFetch;
}

/** The cached server settings right away (refreshed in the background when stale). */
async function serverSettings() {
  const current = await auth.getAuth();
  const cached = await store.get('serverSettings', null);
  if (!cached || cached.account !== auth.accountKey(current)) return refreshServerSettings();
  if (Date.now() - cached.fetchedAt >= SETTINGS_TTL_MS) refreshServerSettings();
  return cached.value;
}

// ---------------------------------------------------------------------------------------------- spaces

let spacesFetch = null;

/** GET /me/spaces, cached for 5 minutes (lib/spaces.js); `force` on popup open and sign-in. */
function refreshSpaces({ force = false } = {}) {
  if (spacesFetch) return spacesFetch;
  spacesFetch = (async () => {
    const current = await auth.getAuth();
    if (!current || current.expired) return null;
    return spaces.refresh(auth.accountKey(current), () => auth.authedCall('/me/spaces', { timeoutMs: 5000 }), { force });
  })().finally(() => {
    spacesFetch = null;
  });
  return spacesFetch;
}

/** The site's space ({id, name, isDefault}) from the cached list, or null (no list yet: the server's default). */
async function siteSpace(provider) {
  const current = await auth.getAuth();
  const cached = await spaces.getCached();
  const mine = cached && cached.account === auth.accountKey(current) ? cached : null;
  if (!mine || Date.now() - mine.fetchedAt >= spaces.TTL_MS) refreshSpaces().catch(() => {});
  return spaces.resolve(provider, await spaces.getChoices(), mine && mine.list);
}

/** A space the server no longer knows: its sites and waiting saves go to the default space (told once). */
async function spaceGone(spaceId) {
  const fallback = await spaces.forget(spaceId);
  await queue.retarget(spaceId, fallback ? fallback.id : null);
  refreshSpaces({ force: true }).catch(() => {});
  return fallback;
}

// ---------------------------------------------------------------------------------------------- site adapters

let bundledAdapters = null;

/** The adapters shipped with the extension (adapters/*.json). */
async function bundled() {
  if (!bundledAdapters) {
    const entries = await Promise.all(
      adapters.SITES.map(async (site) => {
        const response = await fetch(chrome.runtime.getURL(`adapters/${site}.json`));
        return [site, await response.json()];
      }),
    );
    bundledAdapters = Object.fromEntries(entries);
  }
  return bundledAdapters;
}

/** The adapters in use: the server's valid ones, else the bundled copies; published for the content scripts. */
async function publishAdapters() {
  await sessionReady;
  const remote = await store.get('remoteAdapters', null);
  const chosen = adapters.chooseAdapters(await bundled(), remote && remote.adapters);
  await chrome.storage.session.set({ adapters: chosen.adapters });
  return chosen;
}

/**
 * GET /extension/adapters with the ETag of the copy we hold (304: unchanged). Each site's adapter is validated;
 * an invalid one is refused with its reasons (kept in `remoteAdapters.errors`) and the previous one stays.
 */
async function refreshAdapters() {
  const current = await auth.getAuth();
  const baseUrl = current ? current.baseUrl : (await store.getOptions()).baseUrl;
  const held = await store.get('remoteAdapters', null);
  const sameServer = held && held.baseUrl === baseUrl;
  const headers = sameServer && held.etag ? { 'If-None-Match': held.etag } : {};
  // Public data: no token, so that an expired session never keeps a capture fix from arriving.
  const result = await call(baseUrl, '/extension/adapters', { headers, timeoutMs: 10000 });
  const checkedAt = Date.now();
  if (result.status === 304 && sameServer) {
    await store.set({ remoteAdapters: { ...held, checkedAt } });
    return publishAdapters();
  }
  if (!result.ok || !result.data || typeof result.data.adapters !== 'object' || !result.data.adapters) {
    if (held) await store.set({ remoteAdapters: { ...held, checkedAt, lastError: result.error || 'no adapters in the answer' } });
    return publishAdapters();
  }
  const kept = sameServer ? { ...(held.adapters || {}) } : {};
  const errors = {};
  if (result.data.schema_version !== adapters.SCHEMA_VERSION) {
    errors['*'] = [`schema_version ${result.data.schema_version} is not ${adapters.SCHEMA_VERSION}`];
  } else {
    for (const site of adapters.SITES) {
      if (!(site in result.data.adapters)) continue;
      const problems = adapters.validateAdapter(result.data.adapters[site], site);
      if (problems.length) errors[site] = problems;
      else kept[site] = result.data.adapters[site];
    }
  }
  for (const [site, problems] of Object.entries(errors)) console.warn(`Memory Layer: refused the server's ${site} adapter:`, problems);
  await store.set({ remoteAdapters: { baseUrl, etag: result.etag, adapters: kept, errors, checkedAt, lastError: null } });
  return publishAdapters();
}

// ---------------------------------------------------------------------------------------------- capture health

function sendHealth(body) {
  return auth.authedCall('/extension/health', { method: 'POST', body, timeoutMs: 10000 });
}

// ---------------------------------------------------------------------------------------------- the view

/** What content scripts may know (no token): published to chrome.storage.session. */
async function computeView() {
  const [current, options, sites, pausedUntil, cached, spaceCache, choices, notice] = await Promise.all([
    auth.getAuth(),
    store.getOptions(),
    store.getSites(),
    store.getPausedUntil(),
    store.get('serverSettings', null),
    spaces.getCached(),
    spaces.getChoices(),
    store.get(spaces.NOTICE_KEY, null),
  ]);
  const signedIn = Boolean(current && !current.expired);
  const server = cached && current && cached.account === auth.accountKey(current) ? cached.value : ALL_ON;
  const capture = Object.fromEntries(
    store.PROVIDERS.map((p) => [p, signedIn && sites[p] && server.capture && server.providers[p] !== false]),
  );
  const list = signedIn && spaceCache && spaceCache.account === auth.accountKey(current) ? spaceCache.list : [];
  const space = Object.fromEntries(
    store.PROVIDERS.map((p) => {
      const chosen = spaces.resolve(p, choices, list);
      return [p, chosen ? { id: chosen.id, name: chosen.name } : null];
    }),
  );
  return {
    signedIn,
    capture,
    pausedUntil,
    context: signedIn && options.contextEnabled && server.context,
    timeoutMs: options.timeoutMs,
    // Names and ids of the person's spaces (no counts, no token): the chip's quick switch.
    spaces: list.map((s) => ({ id: s.id, name: s.name })),
    space,
    spaceNotice: signedIn && notice ? notice.text : null,
  };
}

async function publishView() {
  await sessionReady;
  const view = await computeView();
  await chrome.storage.session.set({ view });
  return view;
}

chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local') return;
  const keys = ['auth', 'options', 'sites', 'pausedUntil', 'serverSettings', spaces.SPACES_KEY, spaces.CHOICES_KEY, spaces.NOTICE_KEY];
  if (keys.some((key) => key in changes)) publishView();
});

// ---------------------------------------------------------------------------------------------- context

async function getContext(prompt, provider) {
  const current = await auth.getAuth();
  if (!current || current.expired) return { count: 0, reason: 'not signed in' };
  const options = await store.getOptions();
  if (!options.contextEnabled) return { count: 0, reason: 'context is off' };
  const server = await serverSettings();
  if (!server.context) return { count: 0, reason: 'context is off on the server' };
  const query = stripBlock(prompt).trim().slice(0, MAX_QUERY_CHARS);
  if (!query) return { count: 0, reason: 'empty prompt' };
  const params = new URLSearchParams({ query, max_tokens: String(options.maxTokens) });
  const ask = (space) =>
    auth.authedCall(`/context/${encodeURIComponent(current.userId)}?${params}`, {
      timeoutMs: options.timeoutMs,
      headers: spaces.headerFor(space && space.id),
    });
  const space = await siteSpace(provider);
  let result = await ask(space);
  if (space && spaces.isSpaceGone(result)) result = await ask(await spaceGone(space.id));
  if (!result.ok || !result.data || !Array.isArray(result.data.contexts)) {
    return { count: 0, reason: result.error || 'no contexts in the answer' };
  }
  if (result.data.count === 0) return { count: 0 };
  const contexts = fitBudget(result.data.contexts, options.maxTokens);
  if (!contexts.length) return { count: 0 };
  return { count: contexts.length, contexts, block: buildBlock(contexts) };
}

// ---------------------------------------------------------------------------------------------- saves

async function captureAllowed(provider) {
  const view = await computeView();
  if (!view.capture[provider]) return false;
  return !(view.pausedUntil && view.pausedUntil > Date.now());
}

function clip(text) {
  return String(text ?? '').slice(0, MAX_TEXT_CHARS);
}

async function save(message, provider) {
  if (!(await captureAllowed(provider))) return { queued: false, reason: 'capture is off here' };
  const current = await auth.getAuth();
  const prompt = clip(stripBlock(message.prompt).trim());
  const key = String(message.key || crypto.randomUUID()).slice(0, 200);
  if (!prompt) return { queued: false, reason: 'empty prompt' };
  let item;
  if (message.kind === 'response') {
    const response = clip(String(message.response ?? '').trim());
    if (!response) return { queued: false, reason: 'empty answer' };
    item = { path: '/save-response', body: { prompt, response, provider }, kind: 'response' };
  } else {
    item = { path: '/save-prompt', body: { prompt, provider }, kind: 'prompt' };
  }
  // The space the turn was captured in travels with it: a retry after a switch still goes there.
  const space = await siteSpace(provider);
  await queue.enqueue({
    ...item,
    key,
    provider,
    account: auth.accountKey(current),
    space: space ? space.id : null,
    spaceName: space ? space.name : null,
  });
  drain();
  return { queued: true, key };
}

async function sendItem(item) {
  const current = await auth.getAuth();
  if (!current) return { ok: false, status: 0, error: 'not signed in', noAuth: true };
  if (item.account && item.account !== auth.accountKey(current)) {
    return { ok: false, status: 0, error: 'waiting for the account it was captured with', wrongAccount: true };
  }
  const post = (space) =>
    auth.authedCall(item.path, {
      method: 'POST',
      body: item.body,
      headers: { 'Idempotency-Key': item.key, ...spaces.headerFor(space) },
    });
  let result = await post(item.space);
  if (item.space && spaces.isSpaceGone(result)) {
    const fallback = await spaceGone(item.space);
    result = await post(fallback ? fallback.id : null);
  }
  if (result.ok && result.data && result.data.skipped) {
    console.info('Memory Layer: the server skipped a save:', result.data.skipped);
  }
  return result;
}

let draining = null;
let drainAgain = false;

/** Sends what is due; when something got through, whatever still waits is tried at once too. */
function drain({ force = false } = {}) {
  if (draining) {
    drainAgain = true;
    return draining;
  }
  draining = (async () => {
    let forced = force;
    let summary;
    do {
      drainAgain = false;
      summary = await queue.processQueue(sendItem, { force: forced });
      if (summary.sent > 0 && summary.failed === 0 && summary.remaining > 0 && !forced) {
        forced = true;
        drainAgain = true;
      } else forced = false;
    } while (drainAgain);
    return summary;
  })().finally(() => {
    draining = null;
  });
  return draining;
}

// ---------------------------------------------------------------------------------------------- status & account

async function status() {
  const [current, options, sites, pausedUntil, items, dropped, cached, view, spaceCache, choices] = await Promise.all([
    auth.getAuth(),
    store.getOptions(),
    store.getSites(),
    store.getPausedUntil(),
    queue.list(),
    queue.droppedLog(),
    store.get('serverSettings', null),
    computeView(),
    spaces.getCached(),
    spaces.getChoices(),
  ]);
  const mineSpaces = spaceCache && current && spaceCache.account === auth.accountKey(current) ? spaceCache : null;
  const remote = await store.get('remoteAdapters', null);
  const chosen = await publishAdapters();
  return {
    adapters: {
      sources: chosen.sources,
      versions: Object.fromEntries(Object.entries(chosen.adapters).map(([site, a]) => [site, a.version])),
      refused: { ...(remote && remote.errors), ...chosen.errors },
      checkedAt: remote ? remote.checkedAt : null,
    },
    signedIn: Boolean(current),
    expired: Boolean(current && current.expired),
    account: current ? { baseUrl: current.baseUrl, userId: current.userId, username: current.username, mode: current.mode } : null,
    options,
    sites,
    pausedUntil,
    server: cached ? { ...cached.value, supported: cached.supported, fetchedAt: cached.fetchedAt } : null,
    view,
    spaces: {
      supported: mineSpaces ? mineSpaces.supported : null,
      list: mineSpaces ? mineSpaces.list : [],
      choices,
      error: mineSpaces ? mineSpaces.error || null : null,
    },
    queue: items.map((item) => ({
      kind: item.kind,
      provider: item.provider,
      spaceName: item.spaceName || null,
      attempts: item.attempts,
      nextAt: item.nextAt,
      lastError: item.lastError,
      createdAt: item.createdAt,
      preview: String(item.body.prompt || '').slice(0, 80),
    })),
    dropped,
  };
}

async function signIn(message) {
  let baseUrl;
  try {
    baseUrl = normalizeBaseUrl(message.baseUrl);
  } catch (err) {
    return { ok: false, error: err.message };
  }
  const result =
    message.token !== undefined
      ? await auth.signInWithToken(baseUrl, message.token)
      : await auth.signInWithPassword(
          baseUrl,
          String(message.username || ''),
          String(message.password || ''),
          String(message.otp || ''),
        );
  if (!result.ok) return { ok: false, status: result.status, error: result.error, mfaRequired: Boolean(result.mfaRequired) };
  await store.setOptions({ baseUrl });
  await refreshServerSettings({ force: true });
  await refreshSpaces({ force: true }).catch((err) => console.warn('Memory Layer: spaces:', err));
  await publishView();
  drain({ force: true });
  refreshAdapters().catch((err) => console.warn('Memory Layer: adapters:', err));
  return { ok: true, account: { baseUrl, userId: result.auth.userId, username: result.auth.username } };
}

async function openMemories() {
  const current = await auth.getAuth();
  const origin = current ? new URL(current.baseUrl).origin : new URL((await store.getOptions()).baseUrl).origin;
  let url = `${origin}/app/`;
  if (current && !current.expired) {
    const result = await auth.authedCall('/auth/web-login-link', { method: 'POST', body: {}, timeoutMs: 5000 });
    if (result.ok && result.data && typeof result.data.url === 'string' && result.data.url.startsWith('/')) {
      url = origin + result.data.url;
    }
  }
  await chrome.tabs.create({ url });
  return { ok: true, url };
}

// ---------------------------------------------------------------------------------------------- messages

function providerOf(sender) {
  try {
    return SITE_HOSTS[new URL(sender.url || (sender.tab && sender.tab.url) || '').hostname] || null;
  } catch {
    return null;
  }
}

/** The popup and options pages (also when opened as a tab), never a content script. */
function fromExtensionPage(sender) {
  return sender.id === chrome.runtime.id && String(sender.url || '').startsWith(chrome.runtime.getURL(''));
}

const contentHandlers = {
  view: () => computeView(),
  adapters: async () => ({ adapters: (await publishAdapters()).adapters }),
  health: (message, sender) =>
    health.record({
      site: providerOf(sender) || message.provider,
      layout: message.layout,
      field: message.field,
      adapterVersion: message.adapterVersion,
    }),
  context: (message, sender) => getContext(String(message.prompt || ''), providerOf(sender) || message.provider),
  // The chip's quick switch: a content script may set its own site's space only.
  'set-space': async (message, sender) => setSiteSpace(providerOf(sender) || message.provider, message.space),
  'space-notice-seen': async () => ({ notice: await spaces.takeNotice() }),
  save: (message, sender) => save(message, providerOf(sender) || message.provider),
};

const pageHandlers = {
  status: () => status(),
  'sign-in': (message) => signIn(message),
  'sign-out': async () => {
    await auth.signOut();
    await publishView();
    return { ok: true };
  },
  'retry-now': async () => {
    await drain({ force: true });
    return status();
  },
  'refresh-settings': async () => {
    await refreshServerSettings({ force: true });
    return status();
  },
  'refresh-adapters': async () => {
    await refreshAdapters();
    return { ok: true, remote: await store.get('remoteAdapters', null) };
  },
  'flush-health': async () => health.flush(sendHealth, { force: true }),
  'open-memories': () => openMemories(),
  spaces: async () => {
    await refreshSpaces({ force: true });
    return status();
  },
  'set-site-space': async (message) => setSiteSpace(message.provider, message.space),
  'space-notice-seen': async () => ({ notice: await spaces.takeNotice() }),
};

async function setSiteSpace(provider, spaceId) {
  const current = await auth.getAuth();
  try {
    const choices = await spaces.choose(provider, spaceId, await spaces.listFor(auth.accountKey(current)));
    return { ok: true, choices };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || typeof message.type !== 'string' || sender.id !== chrome.runtime.id) return false;
  let handler = null;
  if (message.type in contentHandlers && sender.tab && !fromExtensionPage(sender)) {
    if (!providerOf(sender) && !message.provider) return false;
    handler = contentHandlers[message.type];
  } else if (message.type in pageHandlers && fromExtensionPage(sender)) {
    handler = pageHandlers[message.type];
  }
  if (!handler) return false;
  Promise.resolve()
    .then(() => handler(message, sender))
    .then(sendResponse, (err) => {
      console.error('Memory Layer:', message.type, err);
      sendResponse({ ok: false, error: String((err && err.message) || err) });
    });
  return true;
});

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === queue.ALARM) drain();
  else if (alarm.name === auth.REFRESH_ALARM) auth.refreshAccess();
  else if (alarm.name === ADAPTERS_ALARM) refreshAdapters();
  else if (alarm.name === health.ALARM) health.flush(sendHealth);
});

chrome.runtime.onStartup.addListener(() => {
  publishView();
  refreshSpaces().catch(() => {});
  drain();
  refreshAdapters().catch(() => {});
});

chrome.runtime.onInstalled.addListener(() => {
  publishView();
  drain();
});

function scheduleAlarms() {
  chrome.alarms.create(ADAPTERS_ALARM, { periodInMinutes: ADAPTERS_EVERY_MIN });
  chrome.alarms.create(health.ALARM, { periodInMinutes: health.FLUSH_MS / 60000 });
}

// Every start of the worker (an event woke it) also sends whatever is due, such as a save that was being sent
// when the browser stopped the previous worker, and makes sure the content scripts have their adapters.
publishView();
drain();
publishAdapters().catch((err) => console.error('Memory Layer: no adapters:', err));
chrome.alarms.get(ADAPTERS_ALARM).then((found) => {
  if (!found) {
    scheduleAlarms();
    refreshAdapters().catch(() => {});
  }
});
