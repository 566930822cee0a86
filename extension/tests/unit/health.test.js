import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import { installChrome } from './fake-chrome.js';

installChrome();
const health = await import('../../lib/health.js');

let stored;
beforeEach(() => {
  stored = installChrome().data;
});

const T0 = Date.parse('2026-12-05T10:00:00Z');

async function countSome() {
  await health.record({ site: 'claude', layout: 'hub', field: 'prompts_seen', adapterVersion: '2026-12-05' }, T0);
  await health.record({ site: 'claude', layout: 'hub', field: 'answers_captured', adapterVersion: '2026-12-05' }, T0 + 1000);
  await health.record({ site: 'grok', layout: 'app', field: 'answers_missing', adapterVersion: '1' }, T0 + 2000);
}

test('it counts per site, layout and adapter version, and ignores what it does not know', async () => {
  await countSome();
  assert.equal(await health.record({ site: 'evil.com', layout: 'x', field: 'prompts_seen' }), false);
  assert.equal(await health.record({ site: 'grok', layout: 'app', field: 'text' }), false);
  const reports = health.toReports(stored.get('health').buckets);
  assert.deepEqual(
    reports.map((r) => [r.site, r.layout, r.prompts_seen, r.answers_captured, r.answers_missing, r.fallbacks_used]),
    [
      ['claude', 'hub', 1, 1, 0, 0],
      ['grok', 'app', 0, 0, 1, 0],
    ],
  );
  assert.deepEqual(Object.keys(reports[0]).sort(), [
    'adapter_version', 'answers_captured', 'answers_missing', 'fallbacks_used', 'layout', 'period_end', 'period_start',
    'prompts_seen', 'site',
  ]);
  assert.equal(reports[0].period_start, '2026-12-05T10:00:00.000Z');
  assert.equal(reports[0].period_end, '2026-12-05T10:00:01.000Z');
});

test('it sends one batch, then waits FLUSH_MS before the next', async () => {
  await countSome();
  const bodies = [];
  const ok = async (body) => {
    bodies.push(body);
    return { ok: true, status: 202 };
  };
  assert.deepEqual(await health.flush(ok, { now: T0 + 5000 }), { sent: 2, kept: 0, dropped: false });
  assert.equal(bodies[0].reports.length, 2);
  assert.deepEqual(stored.get('health').buckets, {});
  await health.record({ site: 'claude', layout: 'hub', field: 'prompts_seen', adapterVersion: '2026-12-05' }, T0 + 6000);
  assert.equal((await health.flush(ok, { now: T0 + 7000 })).early, true);
  assert.equal((await health.flush(ok, { now: T0 + 5000 + health.FLUSH_MS })).sent, 1);
});

test('it keeps the batch when the server cannot be reached and drops it on a 4xx', async () => {
  await countSome();
  const kept = await health.flush(async () => ({ ok: false, status: 0, error: 'offline' }), { now: T0 + 5000 });
  assert.equal(kept.kept, 2);
  assert.equal(Object.keys(stored.get('health').buckets).length, 2);
  const dropped = await health.flush(async () => ({ ok: false, status: 400, error: 'bad' }), { now: T0 + 6000, force: true });
  assert.equal(dropped.dropped, true);
  assert.deepEqual(stored.get('health').buckets, {});
});

test('it reports at most 23 hours per period and a version the server accepts', async () => {
  await health.record({ site: 'gemini', layout: 'app', field: 'prompts_seen', adapterVersion: '' }, T0);
  await health.record({ site: 'gemini', layout: 'app', field: 'answers_captured', adapterVersion: '' }, T0 + 30 * 3600 * 1000);
  const [report] = health.toReports(stored.get('health').buckets);
  assert.equal(report.adapter_version, '0');
  assert.equal(Date.parse(report.period_end) - Date.parse(report.period_start), 23 * 3600 * 1000);
});
