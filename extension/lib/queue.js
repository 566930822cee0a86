// The outbox: every save is written here first, then sent; it leaves the queue only when the server has
// answered 2xx, or answered a 4xx (other than 401 and 429) that retrying would not change, which is logged in
// `dropped`. Failures (unreachable, 5xx, 429, timeouts) are retried with exponential backoff, woken by
// chrome.alarms so retries survive service worker and browser restarts.
//
// An item: {key, path, body, kind, provider, account, space, spaceName, createdAt, attempts, nextAt, lastError, lastStatus}

import { isRetryable } from './api.js';
import * as store from './storage.js';

export const QUEUE_KEY = 'queue';
export const DROPPED_KEY = 'dropped';
export const ALARM = 'memory-layer-queue';
export const MAX_ITEMS = 500;
export const MAX_DROPPED_LOG = 20;
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const BASE_DELAY_MS = 30_000; // chrome.alarms fire at most every 30 s
export const MAX_DELAY_MS = 3600_000;

const lock = store.createLock();

/** Runs fn(queue) with the queue loaded, then stores the (possibly mutated) queue; one at a time. */
export function mutate(fn) {
  return lock(async () => {
    const queue = await store.get(QUEUE_KEY, []);
    const result = await fn(queue);
    await store.set({ [QUEUE_KEY]: queue });
    return result;
  });
}

export async function list() {
  return store.get(QUEUE_KEY, []);
}

export async function droppedLog() {
  return store.get(DROPPED_KEY, []);
}

async function logDropped(item, reason, status) {
  const entry = { at: Date.now(), kind: item.kind, provider: item.provider, status: status ?? null, reason };
  console.warn('Memory Layer: dropped a save:', entry);
  const log = await store.get(DROPPED_KEY, []);
  log.unshift(entry);
  await store.set({ [DROPPED_KEY]: log.slice(0, MAX_DROPPED_LOG) });
}

export function backoffMs(attempts, retryAfterSeconds = null) {
  const exponential = Math.min(BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1), MAX_DELAY_MS);
  const jittered = exponential * (0.9 + Math.random() * 0.2);
  return Math.max(jittered, (retryAfterSeconds || 0) * 1000);
}

export async function enqueue(item) {
  const overflow = await mutate((queue) => {
    if (queue.some((queued) => queued.key === item.key)) return [];
    queue.push({ attempts: 0, nextAt: 0, lastError: null, lastStatus: null, createdAt: Date.now(), ...item });
    return queue.length > MAX_ITEMS ? queue.splice(0, queue.length - MAX_ITEMS) : [];
  });
  for (const old of overflow) await logDropped(old, 'the queue was full (oldest dropped)');
  // A safety net in case the service worker is stopped before the send below finishes; the send's outcome
  // replaces it (or clears it when nothing is left).
  await chrome.alarms.create(ALARM, { when: Date.now() + BASE_DELAY_MS });
}

/**
 * Waiting saves captured into a space that no longer exists go to `toSpace` instead (null: the default space);
 * answers how many were moved.
 */
export function retarget(fromSpace, toSpace) {
  return mutate((queue) => {
    let moved = 0;
    for (const item of queue) {
      if (item.space === fromSpace) {
        item.space = toSpace || null;
        item.nextAt = 0;
        moved += 1;
      }
    }
    return moved;
  });
}

/** Schedules the alarm for the earliest retry (or clears it when nothing waits). */
export async function scheduleAlarm() {
  const queue = await list();
  if (!queue.length) {
    await chrome.alarms.clear(ALARM);
    return null;
  }
  const earliest = Math.min(...queue.map((item) => item.nextAt || 0));
  const when = Math.max(Date.now() + 1000, earliest);
  await chrome.alarms.create(ALARM, { when });
  return when;
}

/**
 * Sends what is due (everything when `force`). `send(item)` answers like api.call, plus `noAuth` when there is
 * no usable sign-in and `wrongAccount` when the item was captured under another account: both keep the item.
 */
export async function processQueue(send, { force = false } = {}) {
  const now = Date.now();
  const due = (await list()).filter((item) => force || !item.nextAt || item.nextAt <= now);
  let sent = 0;
  let failed = 0;
  for (const item of due) {
    const result = await send(item);
    if (result.ok) {
      sent += 1;
      await mutate((queue) => {
        const i = queue.findIndex((q) => q.key === item.key);
        if (i >= 0) queue.splice(i, 1);
      });
      continue;
    }
    const keep = result.noAuth || result.wrongAccount || isRetryable(result);
    const tooOld = Date.now() - (item.createdAt || now) > MAX_AGE_MS;
    if (keep && !tooOld) {
      failed += 1;
      await mutate((queue) => {
        const queued = queue.find((q) => q.key === item.key);
        if (!queued) return;
        queued.attempts = (queued.attempts || 0) + 1;
        queued.nextAt = Date.now() + backoffMs(queued.attempts, result.retryAfter);
        queued.lastError = result.error || `HTTP ${result.status}`;
        queued.lastStatus = result.status;
      });
      if (result.status === 0 && !force) {
        // The server is unreachable: the rest would fail the same way; they keep their own schedule.
        break;
      }
      continue;
    }
    await mutate((queue) => {
      const i = queue.findIndex((q) => q.key === item.key);
      if (i >= 0) queue.splice(i, 1);
    });
    await logDropped(item, tooOld ? `still failing after 7 days: ${result.error}` : result.error || `HTTP ${result.status}`, result.status);
  }
  await scheduleAlarm();
  return { sent, failed, remaining: (await list()).length };
}
