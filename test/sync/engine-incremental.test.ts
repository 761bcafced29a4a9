import t from 'tap';
import { PRIORITY } from '../../src/sync/priority.js';
import { waitFor } from '../helpers/wait-for.js';
import { Types } from 'mongoose';
import { startSyncHarness, testSyncConfig } from '../helpers/sync-harness.js';

t.test('the first sync is a full sync that mirrors every event and stores a token', async (t) => {
  const h = await startSyncHarness(t, 'sync-first-full');
  h.seed(25);
  const run = await h.engine().syncCalendar(h.calendarId);
  t.equal(run.status, 'synced');
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: false, apiCalls: 1, eventsChanged: 25 }]);
  t.ok(await h.token(), 'a token is stored');
  const cal = await h.calendar();
  t.equal(cal.state, 'idle');
  t.equal(cal.syncHeldBy, null);
  t.equal(cal.eventCount, 25);
  t.equal(cal.syncTokenSingleEvents, true);
  t.ok(cal.lastFullSyncAt instanceof Date);
  t.match(cal.counters, { full: 1, incremental: 0, fallback: 0, failed: 0, apiCalls: 1, eventsChanged: 25 });
  await h.assertMirrorExact(t);
});

t.test('an incremental sync with a valid token returns only the changed events', async (t) => {
  const h = await startSyncHarness(t, 'sync-incremental');
  const [a, b, c] = h.seed(30);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const firstToken = await h.token();
  const listCallsBefore = h.emu.stats()['events.list'] ?? 0;

  h.emu.insertEvent(h.gcalId, { summary: 'new one', start: { dateTime: new Date(Date.now() + 86_400_000 * 3).toISOString() }, end: { dateTime: new Date(Date.now() + 86_400_000 * 3 + 3_600_000).toISOString() } });
  h.emu.patchEvent(h.gcalId, a!.id!, { summary: 'renamed' });
  h.emu.deleteEvent(h.gcalId, b!.id!);
  const seenIds: string[] = [];
  const run = await h.engine({ onPageStored: (p) => void seenIds.push(String(p.items)) }).syncCalendar(h.calendarId);

  t.match(run.passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 3, apiCalls: 1 }]);
  t.same(seenIds, ['3'], 'one page holding just the three changes');
  t.equal((h.emu.stats()['events.list'] ?? 0) - listCallsBefore, 1);
  t.not(await h.token(), firstToken, 'the token advanced');
  const renamed = await h.models.Event.findOne({ calendarId: new Types.ObjectId(h.calendarId), googleEventId: a!.id }).lean();
  t.equal(renamed?.summary, 'renamed');
  t.equal(await h.models.Event.countDocuments({ googleEventId: b!.id }), 0, 'the deleted event left the mirror');
  t.equal(await h.models.Event.countDocuments({ googleEventId: c!.id }), 1);
  t.match((await h.calendar()).counters, { full: 1, incremental: 1, eventsChanged: 33, apiCalls: 2 });
  await h.assertMirrorExact(t);
});

t.test('an end-to-end cycle of changes and syncs keeps the mirror exact at every step', async (t) => {
  const h = await startSyncHarness(t, 'sync-cycle');
  const engine = h.engine();
  const live = h.seed(10).map((e) => e.id!);
  await engine.syncCalendar(h.calendarId);
  await h.assertMirrorExact(t, 'after the full sync');
  for (let round = 1; round <= 5; round++) {
    h.seed(3, round * 100);
    h.emu.patchEvent(h.gcalId, live[round]!, { summary: `round ${round}` });
    h.emu.deleteEvent(h.gcalId, live[round + 4]!);
    const run = await engine.syncCalendar(h.calendarId, { reason: 'ping' });
    t.match(run.passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 5 }], `round ${round}`);
    await h.assertMirrorExact(t, `after round ${round}`);
  }
  t.match((await h.calendar()).counters, { full: 1, incremental: 5, fallback: 0, failed: 0 });
});

t.test('with INCREMENTAL_SYNC_ENABLED off every sync is a full sync, and the mirror stays exact', async (t) => {
  const h = await startSyncHarness(t, 'sync-flag-global', { INCREMENTAL_SYNC_ENABLED: 'false' });
  const [a] = h.seed(12);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  t.ok(await h.token(), 'the token is still kept, ready for the switch back');
  h.emu.deleteEvent(h.gcalId, a!.id!);
  h.seed(2, 50);
  const run = await engine.syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: false }]);
  t.match((await h.calendar()).counters, { full: 2, incremental: 0 });
  await h.assertMirrorExact(t);
});

t.test('the per-calendar switch overrides the global one in both directions', async (t) => {
  const h = await startSyncHarness(t, 'sync-flag-calendar');
  h.seed(5);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  await h.models.Calendar.updateOne({ _id: h.calendarId }, { $set: { incrementalEnabled: false } });
  h.seed(1, 20);
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'full', status: 'ok' }], 'off for this calendar: full');
  await h.assertMirrorExact(t);

  await h.models.Calendar.updateOne({ _id: h.calendarId }, { $set: { incrementalEnabled: null } });
  h.seed(1, 30);
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 1 }], 'rollback undone: incremental from the stored token');
  await h.assertMirrorExact(t);

  const off = await startSyncHarness(t, 'sync-flag-calendar-on', { INCREMENTAL_SYNC_ENABLED: 'false' });
  off.seed(3);
  await off.models.Calendar.updateOne({ _id: off.calendarId }, { $set: { incrementalEnabled: true } });
  const offEngine = off.engine();
  await offEngine.syncCalendar(off.calendarId);
  off.seed(1, 40);
  t.match((await offEngine.syncCalendar(off.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }], 'on for this calendar while off globally');
  await off.assertMirrorExact(t);
});

t.test('a full sync asked for explicitly runs even with a valid token and removes what Google no longer has', async (t) => {
  const h = await startSyncHarness(t, 'sync-forced-full');
  h.seed(8);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  // A stray row the mirror should not have (e.g. written by a bug or an old version).
  await h.models.Event.create({ calendarId: new Types.ObjectId(h.calendarId), googleEventId: 'ghost', data: {}, syncedAt: new Date() });
  const run = await engine.syncCalendar(h.calendarId, { mode: 'full', reason: 'admin' });
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: false }]);
  await h.assertMirrorExact(t);
});

t.test('requestSync returns at once and the sync completes in the background', async (t) => {
  const h = await startSyncHarness(t, 'sync-request');
  h.seed(4);
  const engine = h.engine({}, { start: true });
  const before = h.emu.stats()['events.list'] ?? 0;
  const requested = engine.requestSync(h.calendarId, { reason: 'ping', priority: PRIORITY.ping });
  t.equal(h.emu.stats()['events.list'] ?? 0, before, 'nothing called Google in the caller’s path');
  t.equal(await requested, 'requested', 'the request is recorded before requestSync resolves');
  await waitFor(() => h.outcomes.length >= 1);
  await engine.onIdle();
  t.match(h.outcomes, [{ calendarId: h.calendarId, reason: 'ping', status: 'ok' }]);
  await h.assertMirrorExact(t);
});

t.test('a token from a query with another singleEvents is not used: the engine full-syncs instead of earning a 400', async (t) => {
  const h = await startSyncHarness(t, 'sync-single-events');
  h.seed(5);
  await h.engine().syncCalendar(h.calendarId);
  h.seed(1, 10);
  const changed = h.engine({ sync: { ...testSyncConfig(), singleEvents: false } });
  const run = await changed.syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', fallback: false }]);
  t.equal((await h.calendar()).syncTokenSingleEvents, false, 'the new token remembers its query');
  h.seed(1, 20);
  t.match((await changed.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 1 }]);
  await h.assertMirrorExact(t);
});
