import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import { installChrome } from './fake-chrome.js';

installChrome();
const spaces = await import('../../lib/spaces.js');
const queue = await import('../../lib/queue.js');

let stored;
beforeEach(() => {
  stored = installChrome().data;
});

const ACCOUNT = '7@http://x';
const LIST = [
  { id: 11, name: 'Personal', is_default: true, memories: 3 },
  { id: 12, name: 'Work', is_default: false, memories: 0 },
];
const answer = (data, status = 200) => async () => ({ ok: status < 300, status, data, error: status < 300 ? null : data && data.error });

test('it reads the list of spaces in either shape, ids as strings, and picks a default', () => {
  const list = spaces.normalizeList(LIST);
  assert.deepEqual(list[0], { id: '11', name: 'Personal', isDefault: true, memories: 3 });
  assert.deepEqual(spaces.normalizeList({ spaces: LIST }), list);
  assert.deepEqual(spaces.normalizeList({ results: [{ id: 'a', name: 'Only' }] }), [
    { id: 'a', name: 'Only', isDefault: true, memories: null },
  ]);
  assert.equal(spaces.normalizeList({ nothing: 1 }), null);
});

test('it resolves a site to its chosen space, else the default, else nothing (no header)', () => {
  const list = spaces.normalizeList(LIST);
  assert.equal(spaces.resolve('chatgpt', { chatgpt: '12' }, list).name, 'Work');
  assert.equal(spaces.resolve('claude', { chatgpt: '12' }, list).name, 'Personal');
  assert.equal(spaces.resolve('chatgpt', { chatgpt: '99' }, list).name, 'Personal');
  assert.equal(spaces.resolve('chatgpt', { chatgpt: '12' }, null), null);
  assert.deepEqual(spaces.headerFor('12'), { 'X-Memory-Space': '12' });
  assert.deepEqual(spaces.headerFor(null), {});
});

test('it caches the list per account for five minutes and refreshes when forced', async () => {
  let calls = 0;
  const fetchList = async () => {
    calls += 1;
    return { ok: true, status: 200, data: LIST };
  };
  const first = await spaces.refresh(ACCOUNT, fetchList, { now: 1000 });
  assert.equal(first.list.length, 2);
  await spaces.refresh(ACCOUNT, fetchList, { now: 2000 });
  assert.equal(calls, 1);
  await spaces.refresh(ACCOUNT, fetchList, { now: 2000, force: true });
  await spaces.refresh('8@http://x', fetchList, { now: 2000 });
  assert.equal(calls, 3);
  assert.equal((await spaces.listFor(ACCOUNT)), null); // the cache now belongs to the other account
});

test('it treats a 404 without "space not found" as a server without spaces, and keeps the list on failure', async () => {
  const old = await spaces.refresh(ACCOUNT, answer({ error: 'Not Found' }, 404));
  assert.equal(old.supported, false);
  assert.deepEqual(old.list, []);
  await spaces.refresh(ACCOUNT, answer(LIST), { force: true });
  const kept = await spaces.refresh(ACCOUNT, answer({ error: 'busy' }, 503), { force: true });
  assert.equal(kept.list.length, 2);
});

test('it lets a site choose one of the spaces only, and the default means no choice', async () => {
  const list = spaces.normalizeList(LIST);
  await spaces.choose('chatgpt', '12', list);
  assert.deepEqual(await spaces.getChoices(), { chatgpt: '12' });
  await assert.rejects(spaces.choose('claude', '99', list), /not one of yours/);
  await assert.rejects(spaces.choose('nowhere', '12', list), /unknown provider/);
  await spaces.choose('chatgpt', '11', list);
  assert.deepEqual(await spaces.getChoices(), {});
});

test('it falls back to the default when a chosen space is gone, and tells the person once', async () => {
  await spaces.refresh(ACCOUNT, answer(LIST), { now: 1000 });
  await spaces.choose('chatgpt', '12', await spaces.listFor(ACCOUNT));
  await spaces.choose('grok', '12', await spaces.listFor(ACCOUNT));
  assert.ok(spaces.isSpaceGone({ status: 404, error: 'space not found' }));
  assert.ok(!spaces.isSpaceGone({ status: 404, error: 'memory not found' }));
  const fallback = await spaces.forget('12');
  assert.equal(fallback.name, 'Personal');
  assert.deepEqual(await spaces.getChoices(), {});
  assert.deepEqual((await spaces.listFor(ACCOUNT)).map((s) => s.name), ['Personal']);
  const notice = await spaces.takeNotice();
  assert.match(notice.text, /“Work” no longer exists: saving into your default space, “Personal”/);
  assert.equal(await spaces.takeNotice(), null);
});

test('it notices a deleted space when the list is refreshed, but silently drops another account\'s choice', async () => {
  await spaces.refresh(ACCOUNT, answer(LIST), { now: 1000 });
  await spaces.choose('claude', '12', await spaces.listFor(ACCOUNT));
  await spaces.refresh(ACCOUNT, answer([LIST[0]]), { force: true });
  assert.deepEqual(await spaces.getChoices(), {});
  assert.match((await spaces.takeNotice()).text, /“Work” no longer exists/);
  await spaces.refresh(ACCOUNT, answer(LIST), { force: true });
  await spaces.choose('claude', '12', await spaces.listFor(ACCOUNT));
  await spaces.refresh('8@http://x', answer([{ id: 31, name: 'Mine', is_default: true }]));
  assert.deepEqual(await spaces.getChoices(), {});
  assert.equal(stored.has(spaces.NOTICE_KEY), false);
});

test('the outbox keeps the space a save was captured in, and moves saves of a gone space to the default', async () => {
  const item = (key, space) => ({ key, path: '/save-prompt', body: { prompt: key }, kind: 'prompt', provider: 'chatgpt', space });
  await queue.enqueue(item('a', '12'));
  await queue.enqueue(item('b', '11'));
  await queue.enqueue(item('c', null));
  const seen = [];
  await queue.processQueue(async (it) => {
    seen.push([it.key, it.space]);
    return { ok: false, status: 503, error: 'busy' };
  }, { force: true });
  assert.deepEqual(seen, [['a', '12'], ['b', '11'], ['c', null]]);
  assert.equal(await queue.retarget('12', '11'), 1);
  assert.deepEqual((await queue.list()).map((it) => [it.key, it.space]), [['a', '11'], ['b', '11'], ['c', null]]);
});
