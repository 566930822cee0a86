import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { installChrome } from './fake-chrome.js';

const realFetch = globalThis.fetch;
beforeEach(() => installChrome());
afterEach(() => {
  globalThis.fetch = realFetch;
});

const { signInWithPassword, getAuth } = await import('../../lib/auth.js');

function jwt(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.sig`;
}

test('a password sign-in says when the server wants the second factor, and sends it as otp', async () => {
  const sent = [];
  globalThis.fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    sent.push(body);
    if (!body.otp) {
      const error = 'two-factor code required: send the 6-digit code from your authenticator app (or a recovery code) as otp';
      return new Response(JSON.stringify({ success: false, error, mfa_required: true }), { status: 401 });
    }
    const access = jwt({ user_id: 'u-1', exp: Math.floor(Date.now() / 1000) + 900, token_type: 'access' });
    return new Response(JSON.stringify({ access, refresh: 'r' }), { status: 200 });
  };

  const asked = await signInWithPassword('http://x', 'me@example.com', 'pw');
  assert.deepEqual([asked.ok, asked.status, asked.mfaRequired], [false, 401, true]);
  assert.match(asked.error, /two-factor code required/);
  assert.equal(await getAuth(), null);

  const done = await signInWithPassword('http://x', 'me@example.com', 'pw', '123456');
  assert.equal(done.ok, true);
  assert.deepEqual(sent, [
    { username: 'me@example.com', password: 'pw' },
    { username: 'me@example.com', password: 'pw', otp: '123456' },
  ]);
  assert.equal((await getAuth()).userId, 'u-1');
});

test('a wrong password is not mistaken for a missing code', async () => {
  globalThis.fetch = async () =>
    new Response(JSON.stringify({ success: false, error: 'No active account found with the given credentials' }), {
      status: 401,
    });
  const result = await signInWithPassword('http://x', 'me', 'nope');
  assert.deepEqual([result.ok, result.status, result.mfaRequired], [false, 401, false]);
});
