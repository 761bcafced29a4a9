import t from 'tap';
import { Types } from 'mongoose';
import { createMetrics } from '../../src/metrics/registry.js';
import { createSyncObserver } from '../../src/ops/sync-observer.js';
import { syncRunModel } from '../../src/ops/sync-run.js';
import { summarizeLastHour } from '../../src/ops/alerts.js';
import { PRIORITY } from '../../src/sync/priority.js';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { connectDatabase } from '../../src/db/connect.js';
import { testDbUri } from '../helpers/db.js';
import { AUTH, startPushHarness } from '../helpers/push-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { pino } from 'pino';
import { syncOutcome } from '../helpers/sync-outcome.js';

const outcome = (over: Partial<SyncOutcome>): SyncOutcome =>
  syncOutcome({ eventsChanged: 2, dueAt: new Date(Date.now() - 250), ...over });

t.test('the observer turns each pass into metrics and one sync_runs row that the alerts read', async (t) => {
  const conn = await connectDatabase(testDbUri('sync-observer'));
  t.teardown(async () => {
    await conn.dropDatabase();
    await conn.close();
  });
  const SyncRun = syncRunModel(conn);
  const metrics = createMetrics();
  const observe = createSyncObserver({ metrics, SyncRun, log: pino({ level: 'silent' }) });

  observe(outcome({}));
  observe(outcome({ mode: 'full', fallback: true, tokenExpired: true, apiCalls: 3 }));
  observe(outcome({ status: 'failed', errorCode: 'transient' }));
  observe(outcome({ status: 'lease_lost', errorCode: 'lease_lost' }));
  observe(outcome({ status: 'aborted', errorCode: 'aborted' }));
  await waitFor(async () => (await SyncRun.countDocuments()) >= 3);

  const text = await metrics.registry.metrics();
  t.match(text, /calsync_syncs_total\{mode="incremental",outcome="ok"\} 1/);
  t.match(text, /calsync_syncs_total\{mode="full",outcome="ok"\} 1/);
  t.match(text, /calsync_syncs_total\{mode="incremental",outcome="failed"\} 1/);
  t.match(text, /calsync_full_sync_fallbacks_total\{reason="token_expired"\} 1/);
  t.match(text, /calsync_sync_token_expirations_total 1/);
  t.match(text, /calsync_google_api_calls_total\{method="events.list"\} 5/);
  t.notMatch(text, /outcome="lease_lost"|outcome="aborted"/, 'a pass cut short is no verdict');

  const runs = await SyncRun.find().sort({ _id: 1 }).lean();
  t.equal(runs.length, 3, 'lease-lost and aborted passes leave no row');
  t.match(runs[0], { mode: 'incremental', outcome: 'ok', apiCalls: 1, priority: PRIORITY.ping });
  t.ok((runs[0]!.freshnessMs ?? 0) >= 250, `freshness is measured from the request (${runs[0]!.freshnessMs} ms)`);
  t.match(runs[1], { mode: 'full', fallbackReason: 'token_expired', tokenExpired: true });
  const hour = await summarizeLastHour(SyncRun);
  t.match(hour, { syncs: 3 });
});

t.test('a sync run by the server is recorded: the engine reports every pass to the observer', async (t) => {
  const h = await startPushHarness(t, { name: 'observer-wiring' });
  const id = await h.registerCalendar('observed@group.calendar.google.com');
  await waitFor(async () => (await h.app.services.SyncRun.countDocuments({ calendarId: new Types.ObjectId(id) })) >= 1, { what: 'the first sync to be recorded' });
  const run = await h.app.services.SyncRun.findOne({ calendarId: new Types.ObjectId(id) }).lean();
  t.match(run, { mode: 'full', outcome: 'ok', priority: PRIORITY.recovery });
  const metrics = await h.app.inject({ url: '/metrics' });
  t.match(metrics.body, /calsync_syncs_total\{mode="full",outcome="ok"\} 1/);
  const status = await h.app.inject({ url: '/admin/status', headers: AUTH });
  t.equal(status.statusCode, 200);
});
