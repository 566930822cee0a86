import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { chooseAdapters, compareVersions, siteForHost, SITES, validateAdapter } from '../../lib/adapters.js';

const load = (site) => JSON.parse(readFileSync(new URL(`../../adapters/${site}.json`, import.meta.url)));
const bundled = Object.fromEntries(SITES.map((s) => [s, load(s)]));
const copy = (v) => structuredClone(v);

test('it accepts every bundled adapter', () => {
  for (const site of SITES) assert.deepEqual(validateAdapter(bundled[site], site), [], site);
});

test('it refuses code, unknown fields and unknown conditions with the reason', () => {
  const bad = copy(bundled.claude);
  bad.layouts[0].onload = 'fetch("https://evil")';
  assert.match(validateAdapter(bad).join(), /unknown field "onload"/);

  const script = copy(bundled.claude);
  script.layouts[0].complete = { eval: 'document.title' };
  assert.match(validateAdapter(script).join(), /unknown condition "eval"/);

  const css = copy(bundled.grok);
  css.layouts[0].strip = ['div { background: url(x) }'];
  assert.match(validateAdapter(css).join(), /strip\[0\]: must be a CSS selector/);

  const keys = copy(bundled.chatgpt);
  keys.layouts[0].send_keys = ['Enter', 'Alt+Enter'];
  assert.match(validateAdapter(keys).join(), /send_keys/);

  const hook = copy(bundled.chatgpt);
  hook.layouts[0].send = [{ css: 'button', run: 'x' }];
  assert.match(validateAdapter(hook).join(), /unknown field "run"/);
});

test('it refuses conditions nested too deep and adapters for another site', () => {
  const deep = copy(bundled.gemini);
  let cond = { always: true };
  for (let i = 0; i < 12; i += 1) cond = { not: cond };
  deep.layouts[0].complete = cond;
  assert.match(validateAdapter(deep).join(), /nested deeper/);
  assert.match(validateAdapter(bundled.gemini, 'grok').join(), /given for "grok"/);
  assert.deepEqual(validateAdapter('nope'), ['the adapter must be a JSON object']);
  assert.match(validateAdapter({ ...copy(bundled.grok), schema_version: 2 }).join(), /schema_version/);
});

test('it uses the newest valid adapter per site and falls back to the bundled copy', () => {
  const newer = { ...copy(bundled.claude), version: '2027-01-02' };
  const older = { ...copy(bundled.gemini), version: '2020-01-01' };
  const broken = { ...copy(bundled.grok), layouts: [] };
  const { adapters, sources, errors } = chooseAdapters(bundled, { claude: newer, gemini: older, grok: broken });
  assert.equal(adapters.claude.version, '2027-01-02');
  assert.deepEqual(sources, { chatgpt: 'bundled', claude: 'server', gemini: 'bundled', grok: 'bundled' });
  assert.equal(adapters.grok, bundled.grok);
  assert.match(errors.grok.join(), /layouts/);
  assert.deepEqual(chooseAdapters(bundled, null).sources, { chatgpt: 'bundled', claude: 'bundled', gemini: 'bundled', grok: 'bundled' });
});

test('it orders versions as dotted numbers and finds the site of a host', () => {
  assert.ok(compareVersions('2026-12-05.2', '2026-12-05') > 0);
  assert.ok(compareVersions('2026-12-10', '2026-12-09') > 0);
  assert.equal(compareVersions('7', '7'), 0);
  assert.equal(siteForHost(bundled, 'chat.openai.com'), 'chatgpt');
  assert.equal(siteForHost(bundled, 'example.org'), null);
});
