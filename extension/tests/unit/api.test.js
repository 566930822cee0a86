import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { call, isRetryable, joinUrl, normalizeBaseUrl, originPattern } from '../../lib/api.js';

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

test('it normalises a server address and refuses others', () => {
  assert.equal(normalizeBaseUrl(' http://127.0.0.1:8000/ '), 'http://127.0.0.1:8000');
  assert.equal(normalizeBaseUrl('https://example.org/api/v1//'), 'https://example.org/api/v1');
  assert.throws(() => normalizeBaseUrl('ftp://x'), /http/);
  assert.throws(() => normalizeBaseUrl('nonsense'), /full URL/);
  assert.throws(() => normalizeBaseUrl('https://u:p@x.org'), /user name/);
  assert.equal(originPattern('http://127.0.0.1:8000'), 'http://127.0.0.1/*');
  assert.equal(joinUrl('http://x/', '/a'), 'http://x/a');
});

test('it answers the status, the JSON, the error and the ETag, with the bearer token', async () => {
  let seen;
  globalThis.fetch = async (url, init) => {
    seen = { url, init };
    return new Response(JSON.stringify({ success: false, error: 'bad input' }), {
      status: 400,
      headers: { 'Content-Type': 'application/json', ETag: '"v1"' },
    });
  };
  const result = await call('http://x', '/save-prompt', { method: 'POST', token: 't0k', body: { a: 1 } });
  assert.deepEqual([result.ok, result.status, result.error, result.etag], [false, 400, 'bad input', '"v1"']);
  assert.equal(seen.url, 'http://x/save-prompt');
  assert.equal(seen.init.headers.Authorization, 'Bearer t0k');
  assert.equal(seen.init.body, '{"a":1}');
});

test('it never throws: an unreachable server or a timeout is status 0', async () => {
  globalThis.fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  const down = await call('http://x', '/');
  assert.equal(down.status, 0);
  assert.match(down.error, /could not reach/);
  globalThis.fetch = (url, init) =>
    new Promise((resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  const slow = await call('http://x', '/', { timeoutMs: 20 });
  assert.equal(slow.timedOut, true);
  assert.match(slow.error, /no answer within 20 ms/);
});

test('it reads Retry-After and says what is worth retrying', async () => {
  globalThis.fetch = async () => new Response('', { status: 429, headers: { 'Retry-After': '12' } });
  const limited = await call('http://x', '/');
  assert.equal(limited.retryAfter, 12);
  assert.ok(isRetryable(limited));
  assert.ok(isRetryable({ status: 503 }) && isRetryable({ status: 0 }));
  assert.ok(!isRetryable({ status: 400 }) && !isRetryable({ status: 404 }));
});
