import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import { installChrome } from './fake-chrome.js';

installChrome();
const queue = await import('../../lib/queue.js');

beforeEach(() => installChrome());

const item = (key) => ({ key, path: '/save-prompt', body: { prompt: key }, kind: 'prompt', provider: 'claude' });

test('it backs off exponentially up to an hour, and never sooner than Retry-After', () => {
  for (let i = 0; i < 20; i += 1) {
    const first = queue.backoffMs(1);
    assert.ok(first >= queue.BASE_DELAY_MS * 0.9 && first <= queue.BASE_DELAY_MS * 1.1);
    const third = queue.backoffMs(3);
    assert.ok(third >= queue.BASE_DELAY_MS * 4 * 0.9 && third <= queue.BASE_DELAY_MS * 4 * 1.1);
    assert.ok(queue.backoffMs(50) <= queue.MAX_DELAY_MS * 1.1);
  }
  assert.ok(queue.backoffMs(1, 600) >= 600_000);
});

test('it sends what is due, keeps what failed for later and drops what the server refused', async () => {
  for (const key of ['ok', 'down', 'bad']) await queue.enqueue(item(key));
  await queue.enqueue(item('ok')); // the same key twice is one item
  const answers = { ok: { ok: true, status: 201 }, down: { ok: false, status: 503, error: 'busy' }, bad: { ok: false, status: 400, error: 'no' } };
  const summary = await queue.processQueue(async (it) => answers[it.key], { force: true });
  assert.deepEqual(summary, { sent: 1, failed: 1, remaining: 1 });
  const [left] = await queue.list();
  assert.equal(left.key, 'down');
  assert.equal(left.attempts, 1);
  assert.ok(left.nextAt > Date.now());
  const [dropped] = await queue.droppedLog();
  assert.equal(dropped.status, 400);
  // Not due yet: nothing is tried without `force`.
  let tried = 0;
  await queue.processQueue(async () => {
    tried += 1;
    return { ok: true };
  });
  assert.equal(tried, 0);
});

test('it stops at the first unreachable answer and keeps items waiting for their account', async () => {
  for (const key of ['a', 'b']) await queue.enqueue(item(key));
  let tried = 0;
  const summary = await queue.processQueue(async () => {
    tried += 1;
    return { ok: false, status: 0, error: 'offline' };
  });
  assert.equal(tried, 1);
  assert.equal(summary.remaining, 2);
  const kept = await queue.processQueue(async () => ({ ok: false, status: 0, wrongAccount: true }), { force: true });
  assert.equal(kept.remaining, 2);
});
