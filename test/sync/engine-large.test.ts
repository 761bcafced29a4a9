import t from 'tap';
import { waitFor } from '../helpers/wait-for.js';
import { Types } from 'mongoose';
import { deferred } from '../helpers/sync-gate.js';
import { eventBody, startSyncHarness, testSyncConfig, type SyncHarness } from '../helpers/sync-harness.js';

// Thousands of events through a Python database server: allow more than the suite's default.
t.setTimeout(180_000);

const mirrorCount = (h: SyncHarness) => h.models.Event.countDocuments({ calendarId: new Types.ObjectId(h.calendarId) });

t.test('a change set of 3,000+ events is synced across pages, one page in memory at a time, into an exact mirror', async (t) => {
  const h = await startSyncHarness(t, 'sync-large');
  const initial = h.seed(300);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);

  h.seed(3000, 1000);
  for (const e of initial.slice(0, 100)) h.emu.patchEvent(h.gcalId, e.id!, { summary: 'patched' });
  for (const e of initial.slice(100, 150)) h.emu.deleteEvent(h.gcalId, e.id!);
  const pageSizes: number[] = [];
  const run = await h.engine({ onPageStored: (p) => void pageSizes.push(p.items) }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'incremental', status: 'ok', eventsChanged: 3150, apiCalls: 2 }]);
  t.same(pageSizes, [2500, 650], 'two pages of at most 2500');
  t.equal((await h.calendar()).eventCount, 3250);
  await h.assertMirrorExact(t);

  // And a full sync of the same calendar, as after a dead token.
  h.emu.invalidateSyncTokens(h.gcalId);
  const full = await engine.syncCalendar(h.calendarId);
  t.match(full.passes, [{ mode: 'full', status: 'ok', fallback: true, apiCalls: 3 }]);
  await h.assertMirrorExact(t, 'exact after a full resync of 3,250 events');
});

t.test('a crash after page 2 of an incremental sync loses nothing: the next holder replays from the old token', async (t) => {
  const h = await startSyncHarness(t, 'sync-crash-incremental');
  const initial = h.seed(50);
  const engine = h.engine({ pageSize: 100 });
  await engine.syncCalendar(h.calendarId);
  const oldToken = await h.token();

  h.seed(400, 100);
  for (const e of initial.slice(0, 20)) h.emu.patchEvent(h.gcalId, e.id!, { summary: 'v2' });
  for (const e of initial.slice(20, 30)) h.emu.deleteEvent(h.gcalId, e.id!);
  // The process freezes for good after storing page 2 (a crash without any cleanup).
  const crashed = deferred();
  const never = deferred();
  t.teardown(() => never.resolve());
  let pages = 0;
  const doomed = h.engine({
    owner: 'doomed',
    pageSize: 100,
    onPageStored: async () => {
      if (++pages === 2) {
        crashed.resolve();
        await never.promise;
      }
    },
  });
  void doomed.syncCalendar(h.calendarId);
  await crashed.promise;
  t.equal(await h.token(), oldToken, 'the token did not move mid-pagination');
  const partial = await mirrorCount(h);
  t.ok(partial > 50 && partial < 440, `two pages are stored: the mirror is partly ahead (${partial} of 440 events)`);
  const stuck = await h.calendar();
  t.equal(stuck.state, 'syncing');
  t.equal(stuck.syncHeldBy, 'doomed');

  // Another replica, after the lease expired, claims the calendar by itself: the request is still there.
  const leaseMs = testSyncConfig().leaseSeconds * 1000;
  const successor = h.engine(
    { models: await h.db.connect(), owner: 'successor', pageSize: 100, now: () => new Date(Date.now() + 2 * leaseMs) },
    { start: true },
  );
  await waitFor(() => h.outcomes.length >= 2, { what: 'the successor to reclaim the calendar' });
  await successor.onIdle();
  t.match(h.outcomes.at(-1), { mode: 'incremental', status: 'ok', reason: 'recovery', fallback: false });
  t.not(await h.token(), oldToken);
  await h.assertMirrorExact(t);
});

t.test('a crash after page 2 of a full sync loses nothing and leaves no stale event behind', async (t) => {
  const h = await startSyncHarness(t, 'sync-crash-full');
  const initial = h.seed(120);
  const engine = h.engine({ pageSize: 50 });
  await engine.syncCalendar(h.calendarId);
  // Google drops the token; meanwhile events changed and some were deleted (no incremental can tell us).
  for (const e of initial.slice(0, 15)) h.emu.deleteEvent(h.gcalId, e.id!);
  for (const e of initial.slice(15, 30)) h.emu.patchEvent(h.gcalId, e.id!, { summary: 'v2' });
  h.emu.insertEvents(h.gcalId, Array.from({ length: 60 }, (_, i) => eventBody(400 + i)));
  h.emu.invalidateSyncTokens(h.gcalId);

  let pages = 0;
  const crashing = h.engine({
    pageSize: 50,
    onPageStored: () => {
      if (++pages === 2) throw new Error('simulated crash after page 2');
    },
  });
  const run = await crashing.syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'failed', errorCode: 'internal', fallback: true }]);
  t.equal(await h.token(), null, 'the dead token is gone and no new one was stored');
  t.ok((await mirrorCount(h)) >= 120, 'nothing was removed by the interrupted full sync');

  const resumed = await engine.syncCalendar(h.calendarId);
  t.match(resumed.passes, [{ mode: 'full', status: 'ok', fallback: false }]);
  t.ok(await h.token());
  await h.assertMirrorExact(t);
});
