// Every calsync series, scraped from GET /metrics after a life cycle that makes each source record:
// a metric whose source stops recording reads zero (or is absent) and fails here by name. A new
// metric is covered without editing this file, unless it has no source yet (listed below).
import t, { type Test } from 'tap';
import { eventBody } from '../helpers/sync-harness.js';
import { startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { deferred, type Deferred } from '../helpers/sync-gate.js';
import { metricTypes, parseSamples, total, type Sample } from '../helpers/prom-text.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { createSyncObserver } from '../../src/ops/sync-observer.js';
import type { SyncRunModel } from '../../src/ops/sync-run.js';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { pino } from 'pino';
import { syncOutcome } from '../helpers/sync-outcome.js';

const HOUR = 3_600_000;

/**
 * Registered in src/metrics/registry.ts so alert rules and the Grafana dashboard can name them, but
 * not recorded by any source yet; each has its own test further down. Whoever wires a source
 * removes the name here, and the life cycle below must then make it record.
 */
const NOT_YET_RECORDED = new Set([
  'calsync_subscriptions_failing', // change-feed deliveries
  'calsync_webhook_deliveries_total', // change-feed deliveries: this life cycle has no subscription
  'calsync_change_delivery_delay_seconds', // change-feed deliveries: this life cycle has no subscription
  'calsync_quota_budget_used_ratio', // recorded under quota pressure only: test/quota/ checks its source
  'calsync_quota_throttled_total', // recorded under quota pressure only: test/quota/ checks its source
  'calsync_discovery_passes_total', // this life cycle's account discovers nothing: test/discovery/ checks its source
]);

/** prom-client's process and Node.js series, collected at scrape time under the `calsync_` prefix. */
const isDefaultMetric = (name: string): boolean => /^calsync_(process|nodejs)_/.test(name);

async function settle(h: PushHarness): Promise<void> {
  await h.emu.flushPings();
  await h.engine!.onIdle();
}

async function scrape(h: PushHarness): Promise<{ text: string; samples: Sample[]; types: Map<string, string> }> {
  const res = await h.app.inject({ url: '/metrics' });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return { text: res.body, samples: parseSamples(res.body), types: metricTypes(res.body) };
}

/**
 * Registration, pings, a dead token, a Google outage, a forged ping and a renewal: every source
 * fires. It ends with one more ping's sync held at its events.list call (a lease held while the
 * test scrapes); `finish` lets it complete.
 */
async function lifeCycle(t: Test): Promise<{ h: PushHarness; gcalId: string; finish(): Promise<void> }> {
  let hold: { entered: Deferred; release: Deferred } | null = null;
  const beforeList = async (): Promise<void> => {
    if (!hold) return;
    hold.entered.resolve();
    await hold.release.promise;
  };
  const h = await startPushHarness(t, { name: 'metric-sources', listen: true, env: { SYNC_MAX_RETRIES: '0' }, beforeList });
  const gcalId = 'metrics@group.calendar.google.com';
  h.emu.createCalendar(gcalId);
  h.emu.insertEvents(gcalId, [eventBody(1), eventBody(2)]);
  await h.registerCalendar(gcalId);
  await settle(h);

  h.emu.insertEvent(gcalId, eventBody(3)); // ping → incremental sync
  await settle(h);
  h.emu.invalidateSyncTokens(gcalId);
  h.emu.insertEvent(gcalId, eventBody(4)); // ping → 410 → fallback to a full sync
  await settle(h);
  h.emu.addFault({ method: 'events.list', status: 503, count: 1 });
  h.emu.insertEvent(gcalId, eventBody(5)); // ping → transient failure (no retries configured)
  await settle(h);

  const forged = await h.app.inject({
    method: 'POST',
    url: '/webhooks/google-calendar',
    headers: {
      'x-goog-channel-id': '00000000-0000-4000-8000-000000000000',
      'x-goog-resource-id': 'nope',
      'x-goog-resource-state': 'exists',
      'x-goog-message-number': '7',
      'x-goog-resource-uri': 'https://www.googleapis.com/calendar/v3/calendars/x/events',
    },
  });
  t.equal(forged.statusCode >= 400 && forged.statusCode < 500, true, 'a ping for an unknown channel is refused');

  h.advance(25 * HOUR); // 48 h TTL, 24 h renewal lead
  await h.app.services.renewChannels();
  await settle(h);

  const held = { entered: deferred(), release: deferred() };
  hold = held;
  h.emu.insertEvent(gcalId, eventBody(6));
  await held.entered.promise;
  return {
    h,
    gcalId,
    async finish() {
      hold = null;
      held.release.resolve();
      await settle(h);
    },
  };
}

t.test('every calsync series records from its source during a life cycle', async (t) => {
  const { h, finish } = await lifeCycle(t);
  const { samples, types } = await scrape(h);
  await finish();
  const own = [...types.keys()].filter((name) => name.startsWith('calsync_') && !isDefaultMetric(name));
  t.ok(own.length >= 15, `found ${own.length} calsync series`);
  for (const name of own) {
    if (NOT_YET_RECORDED.has(name)) continue;
    t.ok(total(samples, name, types.get(name)!) > 0, `${name} recorded something`);
  }

  const at = (family: string, labels: Record<string, string>) => total(samples, family, types.get(family) ?? 'counter', labels);
  t.ok(at('calsync_syncs_total', { mode: 'incremental', outcome: 'ok' }) >= 1, 'an incremental pass succeeded');
  t.ok(at('calsync_syncs_total', { mode: 'full', outcome: 'ok' }) >= 2, 'registration and the fallback were full passes');
  t.ok(at('calsync_syncs_total', { outcome: 'failed' }) >= 1, 'the outage failed a pass');
  t.equal(at('calsync_full_sync_fallbacks_total', { reason: 'token_expired' }), 1, 'the 410 fell back once');
  t.equal(at('calsync_sync_token_expirations_total', {}), 1);
  t.ok(at('calsync_google_api_errors_total', { class: 'transient' }) >= 1, 'the 503 is counted as transient');
  t.ok(at('calsync_google_api_calls_total', { method: 'events.list' }) >= 4);
  t.equal(at('calsync_webhook_rejections_total', { reason: 'unknown_channel' }), 1);
  t.ok(at('calsync_webhook_pings_total', { result: 'sync_requested' }) >= 3);
  t.equal(at('calsync_channel_renewals_total', { outcome: 'renewed' }), 1);
  t.equal(at('calsync_calendars', { mode: 'push' }), 1, 'one calendar, in push mode');
  t.equal(at('calsync_leases_held', { kind: 'sync' }), 1, 'the sync in flight holds its lease');
  const after = await scrape(h);
  t.equal(total(after.samples, 'calsync_leases_held', 'gauge', { kind: 'sync' }), 0, 'released when the pass ends');
});

t.test('channels by status and the earliest expiry come from the channels collection at scrape time', async (t) => {
  const { h, finish } = await lifeCycle(t);
  await finish();
  const { samples, types } = await scrape(h);
  const at = (family: string, labels: Record<string, string>) => total(samples, family, types.get(family) ?? 'gauge', labels);
  t.equal(at('calsync_channels', { status: 'active' }), 1, 'the renewed channel is the one active channel');
  t.equal(at('calsync_channels', { status: 'stopped' }) + at('calsync_channels', { status: 'superseded' }), 1, 'the old channel was replaced');

  const active = await h.models.Calendar.db.collection('channels').findOne({ status: 'active' });
  const expiry = samples.find((s) => s.name === 'calsync_channel_earliest_expiry_timestamp_seconds');
  t.same(expiry?.labels, { status: 'active' });
  t.equal(expiry?.value, (active?.expiration as Date).getTime() / 1000, 'the earliest active expiry, in Unix seconds');

  // The gauges follow the database, not what this process did: a channel stopped elsewhere shows.
  await h.models.Calendar.db.collection('channels').updateMany({}, { $set: { status: 'stopped' } });
  const after = await scrape(h);
  t.equal(total(after.samples, 'calsync_channels', 'gauge', { status: 'active' }), 0, 'no active channel left');
  t.notOk(
    after.samples.some((s) => s.name === 'calsync_channel_earliest_expiry_timestamp_seconds'),
    'no earliest expiry without an active channel (not a zero that reads as 1970)',
  );
});

t.test('process metrics carry the calsync_ prefix once', async (t) => {
  const h = await startPushHarness(t, { name: 'metric-process', sync: 'recording' });
  const { types } = await scrape(h);
  t.ok(types.has('calsync_process_cpu_user_seconds_total'), 'process CPU');
  t.ok(types.has('calsync_process_resident_memory_bytes'), 'process memory');
  t.ok(types.has('calsync_nodejs_eventloop_lag_seconds'), 'event loop lag');
  t.same([...types.keys()].filter((n) => /process_process|calsync_process_nodejs/.test(n)), [], 'no doubled prefix');
});

t.test('freshness: observeFreshness feeds calsync_ping_to_mirror_seconds and ignores nonsense', async (t) => {
  const h = await startPushHarness(t, { name: 'metric-freshness', sync: 'recording' });
  const { metrics } = h.app.services;
  metrics.observeFreshness(0.4);
  metrics.observeFreshness(7);
  metrics.observeFreshness(-1);
  metrics.observeFreshness(Number.NaN);
  const { samples } = await scrape(h);
  const value = (name: string, le?: string) =>
    samples.find((s) => s.name === name && (le === undefined || s.labels.le === le))?.value;
  t.equal(value('calsync_ping_to_mirror_seconds_count'), 2, 'two pings observed');
  t.equal(value('calsync_ping_to_mirror_seconds_sum'), 7.4);
  t.equal(value('calsync_ping_to_mirror_seconds_bucket', '0.5'), 1, 'p50-style buckets resolve sub-second freshness');
  t.equal(value('calsync_ping_to_mirror_seconds_bucket', '10'), 2);
});

t.test('metrics named for other modules are registered under their contract names', async (t) => {
  const h = await startPushHarness(t, { name: 'metric-reserved', sync: 'recording' });
  const { metrics } = h.app.services;
  metrics.subscriptionsFailing.set(2);
  metrics.quotaBudgetUsed.set({ scope: 'project' }, 0.75);
  metrics.quotaThrottled.inc({ scope: 'account', priority: 'background' });
  const { samples, types } = await scrape(h);
  t.equal(types.get('calsync_subscriptions_failing'), 'gauge');
  t.equal(types.get('calsync_quota_budget_used_ratio'), 'gauge');
  t.equal(types.get('calsync_quota_throttled_total'), 'counter');
  t.equal(total(samples, 'calsync_subscriptions_failing', 'gauge'), 0, 'refreshed from the subscriptions at scrape: none is failing');
  t.equal(total(samples, 'calsync_quota_budget_used_ratio', 'gauge', { scope: 'project' }), 0.75);
  t.equal(total(samples, 'calsync_quota_throttled_total', 'counter', { scope: 'account', priority: 'background' }), 1);
});

t.test('freshness: a pass that covered a ping records ping → mirror; other passes and failures do not', async (t) => {
  const metrics = createMetrics();
  // An id that is not an ObjectId: the observer records metrics and skips the sync_runs row.
  const observe = createSyncObserver({ metrics, SyncRun: {} as SyncRunModel, log: pino({ level: 'silent' }) });
  const finishedAt = new Date('2026-01-01T12:00:10Z');
  const pass = (over: Partial<SyncOutcome>): SyncOutcome =>
    syncOutcome({ calendarId: 'not-an-object-id', durationMs: 300, dueAt: new Date(finishedAt.getTime() - 2_500), finishedAt, ...over });

  observe(pass({}));
  observe(pass({ status: 'failed', errorCode: 'transient' })); // the change is not in the mirror yet
  observe(pass({ priority: PRIORITY.safetyNet, reason: 'stale', dueAt: new Date(0) })); // no ping waited
  observe(pass({ priority: PRIORITY.recovery, reason: 'registered' }));
  const { values } = await metrics.pingToMirror.get();
  const value = (series: string) => values.find((v) => v.metricName === series)?.value;
  t.equal(value('calsync_ping_to_mirror_seconds_count'), 1, 'only the successful ping pass');
  t.equal(value('calsync_ping_to_mirror_seconds_sum'), 2.5, 'from the ping being recorded to the end of the pass');
});
