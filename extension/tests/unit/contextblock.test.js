import assert from 'node:assert/strict';
import { test } from 'node:test';

import '../../lib/contextblock.js';

const { BLOCK_START, BLOCK_END, buildBlock, fitBudget, stripBlock, approxTokens } = globalThis.MemoryLayerBlock;

test('it builds a block that strips back to the prompt', () => {
  const block = buildBlock(['My dog is called Max.', 'I live in Lyon.']);
  assert.ok(block.startsWith(BLOCK_START));
  assert.ok(block.includes(`- My dog is called Max.\n- I live in Lyon.\n${BLOCK_END}`));
  assert.equal(stripBlock(`${block}What breed is Max?`), 'What breed is Max?');
});

test('it strips several blocks and leaves text without one untouched', () => {
  const twice = buildBlock(['a']) + buildBlock(['b']) + 'Hello';
  assert.equal(stripBlock(twice), 'Hello');
  assert.equal(stripBlock('Hello [Memory Layer context — from your earlier chats] x'), 'Hello [Memory Layer context — from your earlier chats] x');
  assert.equal(stripBlock(null), '');
});

test('it keeps contexts within the token budget and cuts a first one that alone is too long', () => {
  assert.deepEqual(fitBudget(['one two', '  spaced   out  ', 42, ''], 100), ['one two', 'spaced out']);
  const long = 'x'.repeat(1000);
  const [cut, ...rest] = fitBudget([long, 'short'], 50);
  assert.equal(rest.length, 0);
  assert.ok(cut.endsWith('…') && cut.length < long.length);
  assert.equal(approxTokens('abcd'), 1);
});
