// Capture health: per site, layout and adapter version, how many prompts were seen, answers captured, answers
// missing and fallbacks used. Never any text or address. Counts build up in chrome.storage.local (`health`) and
// are sent as one batch at most every FLUSH_MS (by an alarm): POST /extension/health. A 2xx or 4xx answer
// ends the batch (4xx: the server will not take it, sending it again would not change that); a network failure
// or 5xx keeps it for the next flush.

import * as store from './storage.js';

export const HEALTH_KEY = 'health';
export const ALARM = 'memory-layer-health';
export const FLUSH_MS = 15 * 60 * 1000;
export const FIELDS = ['prompts_seen', 'answers_captured', 'answers_missing', 'fallbacks_used'];
export const SITES = ['chatgpt', 'claude', 'gemini', 'grok'];
const MAX_BUCKETS = 50; // the server takes at most 50 reports per request (EXTENSION_HEALTH_MAX_REPORTS)
const MAX_PERIOD_MS = 23 * 3600 * 1000; // the server takes reports covering at most 24 hours

const lock = store.createLock();

/** Adds one to a counter. Unknown sites or fields, and over-long names, are ignored. */
export function record({ site, layout, field, adapterVersion }, now = Date.now()) {
  if (!SITES.includes(site) || !FIELDS.includes(field)) return Promise.resolve(false);
  const name = String(layout || '').slice(0, 40);
  const version = String(adapterVersion || '0').replace(/[^0-9A-Za-z.+_-]/g, '').slice(0, 40) || '0';
  if (!name) return Promise.resolve(false);
  return lock(async () => {
    const state = await store.get(HEALTH_KEY, { buckets: {} });
    const key = `${site}|${name}|${version}`;
    let bucket = state.buckets[key];
    if (!bucket) {
      if (Object.keys(state.buckets).length >= MAX_BUCKETS) return false;
      bucket = { site, layout: name, adapter_version: version, period_start: now, ...Object.fromEntries(FIELDS.map((f) => [f, 0])) };
      state.buckets[key] = bucket;
    }
    bucket[field] += 1;
    bucket.period_end = now;
    await store.set({ [HEALTH_KEY]: state });
    return true;
  });
}

/** The batch as the server takes it: {reports: [...]} with ISO 8601 periods. */
export function toReports(buckets, now = Date.now()) {
  return Object.values(buckets).map((b) => {
    const end = Math.max(b.period_end || now, b.period_start);
    return {
      site: b.site,
      layout: b.layout,
      adapter_version: b.adapter_version,
      ...Object.fromEntries(FIELDS.map((f) => [f, b[f]])),
      period_start: new Date(Math.max(b.period_start, end - MAX_PERIOD_MS)).toISOString(),
      period_end: new Date(end).toISOString(),
    };
  });
}

/**
 * Sends what has been counted when the last flush is FLUSH_MS old (or `force`). `send(body)` answers like
 * api.call. Counts made while the batch was on its way stay for the next one.
 */
export async function flush(send, { force = false, now = Date.now() } = {}) {
  const state = await store.get(HEALTH_KEY, { buckets: {} });
  const keys = Object.keys(state.buckets);
  if (!keys.length) return { sent: 0, kept: 0 };
  if (!force && state.lastFlush && now - state.lastFlush < FLUSH_MS) return { sent: 0, kept: keys.length, early: true };
  const batch = JSON.parse(JSON.stringify(state.buckets));
  const result = await send({ reports: toReports(batch, now) });
  const done = result.ok || (result.status >= 400 && result.status < 500 && result.status !== 401 && result.status !== 429);
  if (!done) return { sent: 0, kept: keys.length, error: result.error || `HTTP ${result.status}` };
  await lock(async () => {
    const current = await store.get(HEALTH_KEY, { buckets: {} });
    for (const [key, sentBucket] of Object.entries(batch)) {
      const bucket = current.buckets[key];
      if (!bucket) continue;
      for (const f of FIELDS) bucket[f] -= sentBucket[f];
      if (FIELDS.every((f) => bucket[f] <= 0)) delete current.buckets[key];
      else bucket.period_start = sentBucket.period_end || now;
    }
    current.lastFlush = now;
    await store.set({ [HEALTH_KEY]: current });
  });
  return { sent: keys.length, kept: 0, dropped: !result.ok };
}
