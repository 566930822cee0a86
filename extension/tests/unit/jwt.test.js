import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeJwt, expiryMs, userIdFromClaims } from '../../lib/jwt.js';

const encode = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

test('it reads the claims of a token without verifying it', () => {
  const claims = decodeJwt(`${encode({ alg: 'HS256' })}.${encode({ user_id: 7, exp: 1700000000, name: 'Zoë' })}.sig`);
  assert.equal(claims.name, 'Zoë');
  assert.equal(userIdFromClaims(claims), '7');
  assert.equal(expiryMs(claims), 1700000000 * 1000);
});

test('it takes a Supabase sub and answers null without an id or exp', () => {
  assert.equal(userIdFromClaims({ sub: 'a-uuid' }), 'a-uuid');
  assert.equal(userIdFromClaims({}), null);
  assert.equal(expiryMs({}), null);
});

test('it refuses what is not a JWT', () => {
  assert.throws(() => decodeJwt('abc'), /not a JWT/);
  assert.throws(() => decodeJwt(`x.${Buffer.from('not json').toString('base64url')}.y`), /not readable JSON/);
  assert.throws(() => decodeJwt(`x.${encode(5)}.y`), /not an object/);
});
