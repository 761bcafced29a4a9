import t from 'tap';
import { Types } from 'mongoose';
import { connectDatabase } from '../../src/db/connect.js';
import { syncRunModel } from '../../src/ops/sync-run.js';
import { evaluateAlerts, summarizeLastHour, type HourSummary } from '../../src/ops/alerts.js';
import { testDbUri } from '../helpers/db.js';

const quiet: HourSummary = { syncs: 100, incremental: 95, full: 5, failed: 0, fallbacks: 2, tokenExpirations: 1, maxDurationMs: 900, apiCalls: 120 };

t.test('a healthy hour raises no alert', async (t) => {
  t.same(evaluateAlerts(quiet), []);
});

t.test('each threshold from the design fires its own alert just above it and not at it', async (t) => {
  t.same(evaluateAlerts({ ...quiet, tokenExpirations: 10 }), [], '10% is not above 10%');
  t.same(evaluateAlerts({ ...quiet, tokenExpirations: 11 }).map((a) => a.name), ['token_expiration_rate']);
  t.same(evaluateAlerts({ ...quiet, failed: 6 }).map((a) => a.name), ['api_error_rate']);
  t.same(evaluateAlerts({ ...quiet, maxDurationMs: 60_001 }).map((a) => a.name), ['slow_sync']);
  t.same(evaluateAlerts({ ...quiet, fallbacks: 21 }).map((a) => a.name), ['fallback_spike']);
});

t.test('rates over a tiny sample do not alert', async (t) => {
  t.same(evaluateAlerts({ ...quiet, syncs: 2, failed: 2, fallbacks: 2, tokenExpirations: 2 }), []);
});

t.test('the hour summary counts only runs of the last hour', async (t) => {
  const conn = await connectDatabase(testDbUri('alerts'));
  t.teardown(async () => {
    await conn.dropDatabase();
    await conn.close();
  });
  const SyncRun = syncRunModel(conn);
  const now = new Date();
  const calendarId = new Types.ObjectId();
  const run = (over: object) => ({ calendarId, mode: 'incremental', outcome: 'ok', durationMs: 100, apiCalls: 1, finishedAt: now, ...over });
  await SyncRun.insertMany([
    run({}),
    run({ mode: 'full', fallbackReason: 'token_expired', tokenExpired: true, apiCalls: 3, durationMs: 70_000 }),
    run({ outcome: 'failed', errorCode: 'transient' }),
    run({ finishedAt: new Date(now.getTime() - 2 * 3600_000), outcome: 'failed' }),
  ]);
  const s = await summarizeLastHour(SyncRun, now);
  t.same(s, { syncs: 3, incremental: 2, full: 1, failed: 1, fallbacks: 1, tokenExpirations: 1, maxDurationMs: 70_000, apiCalls: 5 });
  t.same(evaluateAlerts(s, 1).map((a) => a.name).sort(), ['api_error_rate', 'fallback_spike', 'slow_sync', 'token_expiration_rate']);
});
