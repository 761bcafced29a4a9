import t from 'tap';
import mongoose, { Types } from 'mongoose';
import { createCalendarClient } from '../../src/google/calendar-client.js';
import { IDLE_PRIORITY, NEVER } from '../../src/sync/priority.js';
import { startSyncHarness, type SyncHarness } from '../helpers/sync-harness.js';

/** Full sync, then a few changes waiting for the next incremental sync. */
async function syncedWithChanges(h: SyncHarness) {
  const events = h.seed(20);
  await h.engine().syncCalendar(h.calendarId);
  h.emu.patchEvent(h.gcalId, events[0]!.id!, { summary: 'changed' });
  h.emu.deleteEvent(h.gcalId, events[1]!.id!);
  h.seed(2, 100);
  return { token: await h.token(), events };
}

const mirrorCount = (h: SyncHarness) => h.models.Event.countDocuments({ calendarId: new Types.ObjectId(h.calendarId) });

t.test('a 410 during incremental sync falls back to full sync and keeps events that still exist', async (t) => {
  const h = await startSyncHarness(t, 'sync-410');
  const { token } = await syncedWithChanges(h);
  h.emu.invalidateSyncTokens(h.gcalId);
  h.emu.setPaging({ maxPageSize: 4 });
  const countsDuringRefill: number[] = [];
  const engine = h.engine({ onPageStored: async () => void countsDuringRefill.push(await mirrorCount(h)) });

  const run = await engine.syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: true, tokenExpired: true }]);
  t.ok(countsDuringRefill.length > 3, 'the refill took several pages');
  t.ok(countsDuringRefill.every((n) => n >= 20), 'the mirror was never emptied or half-filled during the refill');
  const after = await h.token();
  t.ok(after);
  t.not(after, token);
  t.match((await h.calendar()).counters, { full: 2, incremental: 0, fallback: 1, failed: 0 });
  t.equal((await h.calendar()).state, 'idle');
  await h.assertMirrorExact(t);

  h.seed(1, 200);
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 1 }], 'incremental again with the new token');
  await h.assertMirrorExact(t);
});

t.test('a corrupted stored token recovers through a full sync', async (t) => {
  const h = await startSyncHarness(t, 'sync-garbage-token');
  await syncedWithChanges(h);
  await h.models.Calendar.updateOne({ _id: h.calendarId }, { $set: { syncToken: 'not-a-token-google-ever-issued' } });
  const run = await h.engine().syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: true }]);
  t.not(await h.token(), 'not-a-token-google-ever-issued');
  await h.assertMirrorExact(t);
});

t.test('a 400 on a request carrying the token clears it and falls back to full sync', async (t) => {
  const h = await startSyncHarness(t, 'sync-400');
  const { token } = await syncedWithChanges(h);
  h.emu.addFault({ method: 'events.list', status: 400, reason: 'invalid', count: 1 });
  const run = await h.engine().syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: true, tokenExpired: false, retries: 0 }]);
  t.not(await h.token(), token);
  t.match((await h.calendar()).counters, { fallback: 1 });
  await h.assertMirrorExact(t);
});

t.test('a burst of 429s and 403 rate limits is retried with backoff honouring Retry-After, and the sync completes', async (t) => {
  const h = await startSyncHarness(t, 'sync-429');
  const { token } = await syncedWithChanges(h);
  h.emu.addFault({ method: 'events.list', status: 429, reason: 'rateLimitExceeded', count: 1, retryAfter: 1 });
  h.emu.addFault({ method: 'events.list', status: 403, reason: 'userRateLimitExceeded', count: 1 });
  h.emu.addFault({ method: 'events.list', status: 403, reason: 'rateLimitExceeded', count: 1 });
  const waits: number[] = [];
  const run = await h.engine({ sleep: async (ms) => void waits.push(ms), random: () => 0.5 }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'incremental', status: 'ok', fallback: false, retries: 3, apiCalls: 4 }]);
  // Retry-After 1 s is honoured up to the 5 ms cap of the test config; then jittered exponential waits.
  t.same(waits, [5, 1, 2]);
  t.not(await h.token(), token, 'the token advanced after the burst');
  await h.assertMirrorExact(t);
});

t.test('a rate-limit burst longer than the retries fails the sync and keeps the token', async (t) => {
  const h = await startSyncHarness(t, 'sync-429-long');
  const { token } = await syncedWithChanges(h);
  h.emu.addFault({ method: 'events.list', status: 429, reason: 'rateLimitExceeded', count: 50 });
  const engine = h.engine();
  const run = await engine.syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'failed', errorCode: 'rate_limited', apiCalls: 4, retries: 3 }]);
  t.equal(await h.token(), token, 'token kept');
  const cal = await h.calendar();
  t.equal(cal.state, 'failed');
  t.equal(cal.syncHeldBy, null);
  t.match(cal.lastError, { code: 'rate_limited' });
  t.match(cal.counters, { failed: 1, fallback: 0 });

  h.emu.clearFaults();
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 4 }], 'the next sync resumes incrementally');
  t.equal((await h.calendar()).state, 'idle');
  t.equal((await h.calendar()).lastError, null);
  await h.assertMirrorExact(t);
});

t.test('a 503 burst is retried; a longer one fails the sync, keeps the token, and the next sync is incremental', async (t) => {
  const h = await startSyncHarness(t, 'sync-503');
  const { token } = await syncedWithChanges(h);
  const engine = h.engine();
  h.emu.addFault({ method: 'events.list', status: 503, reason: 'backendError', count: 2 });
  h.emu.addFault({ method: 'events.list', status: 500, reason: 'backendError', count: 1 });
  const survived = await engine.syncCalendar(h.calendarId);
  t.match(survived.passes, [{ mode: 'incremental', status: 'ok', retries: 3 }]);
  await h.assertMirrorExact(t);

  const before = await h.token();
  t.not(before, token);
  h.seed(2, 300);
  h.emu.addFault({ method: 'events.list', status: 503, reason: 'backendError', count: 50 });
  const failed = await engine.syncCalendar(h.calendarId);
  t.match(failed.passes, [{ mode: 'incremental', status: 'failed', errorCode: 'transient', fallback: false }]);
  t.equal(await h.token(), before, 'a 503 never clears the token');
  t.match((await h.calendar()).counters, { full: 1, fallback: 0, failed: 1 });

  h.emu.clearFaults();
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 2 }]);
  await h.assertMirrorExact(t);
});

t.test('a failure on a later page keeps the pages already stored and the old token', async (t) => {
  const h = await startSyncHarness(t, 'sync-503-page2');
  const events = h.seed(10);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const token = await h.token();
  for (const e of events.slice(0, 6)) h.emu.patchEvent(h.gcalId, e.id!, { summary: 'v2' });
  h.emu.setPaging({ maxPageSize: 3 });
  let pages = 0;
  const failing = h.engine({
    onPageStored: () => {
      if (++pages === 1) h.emu.addFault({ method: 'events.list', status: 503, count: 50 });
    },
  });
  t.match((await failing.syncCalendar(h.calendarId)).passes, [{ status: 'failed', errorCode: 'transient' }]);
  t.equal(await h.token(), token);
  t.equal(await h.models.Event.countDocuments({ summary: 'v2' }), 3, 'page 1 is stored');
  h.emu.clearFaults();
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 6 }], 'replayed from the old token');
  await h.assertMirrorExact(t);
});

t.test('network errors are retried, then fail the sync without touching the token', async (t) => {
  const h = await startSyncHarness(t, 'sync-network');
  const { token } = await syncedWithChanges(h);
  const unreachable = createCalendarClient({
    apiRootUrl: 'http://127.0.0.1:9/',
    oauthTokenUrl: h.emu.tokenUrl,
    clientId: 'test-client',
    clientSecret: 'test-secret',
    refreshToken: 'rt-sync-tests',
  });
  const run = await h.engine({ clientFor: () => unreachable }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'failed', errorCode: 'transient', retries: 3, apiCalls: 4 }]);
  t.equal(await h.token(), token);
  t.equal((await h.calendar()).state, 'failed');
});

t.test('invalid_grant marks the calendar as needing attention, without retries or a full sync', async (t) => {
  const h = await startSyncHarness(t, 'sync-invalid-grant');
  const { token } = await syncedWithChanges(h);
  const tokenCallsBefore = h.emu.stats().token ?? 0;
  const listCallsBefore = h.emu.stats()['events.list'] ?? 0;
  const revoked = h.engine({ clientFor: () => h.client('revoked-refresh-token') });
  const run = await revoked.syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'needs_attention', errorCode: 'permission', retries: 0, fallback: false }]);
  t.equal((h.emu.stats().token ?? 0) - tokenCallsBefore, 1, 'one token request, no retry storm');
  t.equal((h.emu.stats()['events.list'] ?? 0) - listCallsBefore, 0);
  t.equal(await h.token(), token, 'the token is kept');
  const cal = await h.calendar();
  t.equal(cal.state, 'needs_attention');
  t.match(cal.lastError, { code: 'permission', message: /invalid_grant/ });

  t.same(await revoked.syncCalendar(h.calendarId, { reason: 'ping' }), { status: 'skipped', passes: [] }, 'pings do not hammer a broken account');
  t.equal((h.emu.stats().token ?? 0) - tokenCallsBefore, 1);

  // Credentials fixed; an explicit request (admin) syncs again, incrementally.
  const run2 = await h.engine().syncCalendar(h.calendarId, { mode: 'incremental', reason: 'admin' });
  t.match(run2.passes, [{ mode: 'incremental', status: 'ok' }]);
  t.equal((await h.calendar()).state, 'idle');
  await h.assertMirrorExact(t);
});

t.test('a 403 that is not a rate limit needs attention and is not retried', async (t) => {
  const h = await startSyncHarness(t, 'sync-403');
  await syncedWithChanges(h);
  h.emu.addFault({ method: 'events.list', status: 403, reason: 'forbidden', count: 5 });
  const run = await h.engine().syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'needs_attention', errorCode: 'permission', apiCalls: 1, retries: 0 }]);
  t.equal((await h.calendar()).state, 'needs_attention');
});

t.test('a calendar whose client cannot be built needs attention', async (t) => {
  const h = await startSyncHarness(t, 'sync-no-client');
  const run = await h.engine({ clientFor: () => Promise.reject(new Error('account not found')) }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'needs_attention', errorCode: 'credentials_unavailable', apiCalls: 0 }]);
  t.equal((await h.calendar()).syncHeldBy, null);
});

t.test('a database that does not answer while the client is built is a failure to retry, not one for an operator', async (t) => {
  // The account's credentials live in MongoDB. Parking the calendar (needs attention) would drop its
  // requests and ignore its pings until someone acts, for what is usually a blip.
  const h = await startSyncHarness(t, 'sync-client-db-down');
  const down = new mongoose.mongo.MongoNetworkError('connection reset by peer');
  const run = await h.engine({ clientFor: () => Promise.reject(down) }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ status: 'failed', errorCode: 'internal', apiCalls: 0 }]);
  const cal = await h.calendar();
  t.equal(cal.state, 'failed', 'failed, not needs_attention');
  t.ok(cal.priority < IDLE_PRIORITY && cal.dueAt.getTime() < NEVER.getTime(), 'the request is kept');
  const again = await h.engine().syncCalendar(h.calendarId);
  t.match(again.passes, [{ status: 'ok' }], 'the next claim syncs it');
  await h.assertMirrorExact(t);
});
