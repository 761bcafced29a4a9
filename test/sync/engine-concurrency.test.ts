import t, { type Test } from 'tap';
import type { calendar_v3 } from 'googleapis';
import { listEventsIncremental } from '../../src/google/list-events.js';
import type { SyncRunResult } from '../../src/sync/outcome.js';
import { deferred } from '../helpers/sync-gate.js';
import { REFRESH_TOKEN, startSyncHarness, testSyncConfig, type SyncHarness } from '../helpers/sync-harness.js';
import { createCalendarRow } from '../helpers/sync-db.js';
import { waitFor } from '../helpers/wait-for.js';
import { IDLE_PRIORITY, NEVER, PRIORITY } from '../../src/sync/priority.js';

/** Wraps a client to measure how many events.list calls are in flight at once. */
function tracked(api: calendar_v3.Calendar, tracker: { active: number; max: number }): calendar_v3.Calendar {
  const list = api.events.list.bind(api.events) as (...args: unknown[]) => Promise<unknown>;
  return {
    events: {
      list: async (...args: unknown[]) => {
        tracker.max = Math.max(tracker.max, ++tracker.active);
        try {
          return await list(...args);
        } finally {
          tracker.active--;
        }
      },
    },
  } as unknown as calendar_v3.Calendar;
}

/** The stored token is Google's latest: an incremental call with it reports no change. */
async function assertTokenIsCurrent(t: Test, h: SyncHarness): Promise<void> {
  const token = await h.token();
  t.ok(token, 'a token is stored');
  const res = await listEventsIncremental(h.client(), h.gcalId, { syncToken: token, singleEvents: true }, async () => undefined);
  t.equal(res.totalEvents, 0, 'the stored token is current: nothing changed since');
}

t.test('several engines racing on one calendar never overlap and end with the right token and an exact mirror', async (t) => {
  const h = await startSyncHarness(t, 'sync-race');
  const events = h.seed(40);
  h.emu.setPaging({ maxPageSize: 7 });
  h.emu.addFault({ method: 'events.list', latencyMs: 3 });
  const tracker = { active: 0, max: 0 };
  const engines = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      const models = await h.db.connect();
      return h.engine({ models, owner: `replica-${i}`, clientFor: () => tracked(h.client(), tracker) }, { start: true });
    }),
  );
  for (let round = 0; round < 3; round++) {
    const passesBefore = h.outcomes.length;
    h.seed(5, 100 + round * 10);
    h.emu.patchEvent(h.gcalId, events[round]!.id!, { summary: `round ${round}` });
    h.emu.deleteEvent(h.gcalId, events[10 + round]!.id!);
    const runs = await Promise.all(
      engines.flatMap((e) => [
        e.requestSync(h.calendarId, { reason: 'ping' }).then(() => ({ status: 'requested' })),
        e.syncCalendar(h.calendarId, { reason: 'ping' }),
        e.syncCalendar(h.calendarId, { reason: 'cron' }),
      ]),
    );
    await Promise.all(engines.map((e) => e.onIdle()));
    const passes = h.outcomes.slice(passesBefore);
    t.ok(passes.length >= 1 && passes.every((o) => o.status === 'ok'), `round ${round}: synced, without failures`);
    t.ok(runs.every((r) => r.status !== 'skipped'));
    t.equal(tracker.max, 1, `round ${round}: never two syncs of the calendar at once`);
    await h.assertMirrorExact(t, `round ${round}: exact mirror`);
    await assertTokenIsCurrent(t, h);
  }
  const cal = await h.calendar();
  t.equal(cal.state, 'idle');
  t.equal(cal.syncHeldBy, null);
  t.equal(cal.priority, IDLE_PRIORITY, 'no request left behind');
  t.same(cal.dueAt, NEVER);
  t.equal(cal.counters.failed, 0);
});

t.test('any number of requests during a sync lead to exactly one extra pass, which sees the changes made meanwhile', async (t) => {
  const h = await startSyncHarness(t, 'sync-coalesce');
  h.seed(10);
  const paused = deferred();
  const resume = deferred();
  let pagesStored = 0;
  const holder = h.engine({
    owner: 'holder',
    onPageStored: async () => {
      if (++pagesStored === 1) {
        paused.resolve();
        await resume.promise;
      }
    },
  });
  const others = await Promise.all([0, 1, 2].map(async (i) => h.engine({ models: await h.db.connect(), owner: `other-${i}` })));
  const running = holder.syncCalendar(h.calendarId, { reason: 'registered' });
  await paused.promise;
  // Replicas that claim due work in the background, started once the holder has the calendar.
  for (const e of others) e.start();

  const added = h.seed(3, 500);
  const requests: Array<Promise<SyncRunResult>> = [];
  const recorded: Array<Promise<unknown>> = [];
  for (let i = 0; i < 12; i++) {
    const e = others[i % 3]!;
    requests.push(e.syncCalendar(h.calendarId, { reason: 'ping' }));
    recorded.push(e.requestSync(h.calendarId, { reason: 'ping' }), holder.requestSync(h.calendarId, { reason: 'ping' }));
  }
  const coalesced = await Promise.all(requests);
  await Promise.all(recorded);
  t.ok(coalesced.every((r) => r.status === 'coalesced'), 'every other request left the work to the holder');
  resume.resolve();
  const run = await running;
  t.match(run.passes[0], { mode: 'full', status: 'ok' }, 'the holder finished its pass');
  // The one extra pass is run by whichever replica claims the calendar first once it is due again.
  await waitFor(() => h.outcomes.length >= 2);
  await Promise.all([holder, ...others].map((e) => e.onIdle()));

  t.match(h.outcomes, [
    { mode: 'full', status: 'ok' },
    { mode: 'incremental', status: 'ok', eventsChanged: added.length },
  ]);
  t.equal(h.outcomes.length, 2, 'two passes in all, across every engine');
  t.equal((await h.calendar()).priority, IDLE_PRIORITY, 'no request left behind');
  await h.assertMirrorExact(t);
  await assertTokenIsCurrent(t, h);
});

t.test('a stalled holder whose lease expired cannot overwrite the newer token or the mirror', async (t) => {
  const h = await startSyncHarness(t, 'sync-stalled');
  h.seed(12);
  h.emu.setPaging({ maxPageSize: 5 });
  const stalled = deferred();
  const wake = deferred();
  let pages = 0;
  const slow = h.engine({
    owner: 'slow',
    onPageStored: async () => {
      if (++pages === 1) {
        stalled.resolve();
        await wake.promise;
      }
    },
  });
  const lease = testSyncConfig().leaseSeconds * 1000;
  const later = h.engine({ models: await h.db.connect(), owner: 'later', now: () => new Date(Date.now() + 2 * lease) });

  const slowRun = slow.syncCalendar(h.calendarId);
  await stalled.promise;
  t.equal((await later.syncCalendar(h.calendarId)).status, 'synced', 'the expired lease is reclaimed');
  const [first] = h.seed(2, 300);
  h.emu.deleteEvent(h.gcalId, first!.id!);
  t.match((await later.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }]);
  const newest = await h.token();

  wake.resolve();
  const run = await slowRun;
  t.match(run.passes, [{ status: 'lease_lost', errorCode: 'lease_lost' }]);
  t.equal(await h.token(), newest, 'the newer token survived');
  const cal = await h.calendar();
  t.equal(cal.state, 'idle');
  t.equal(cal.lastError, null, 'the stalled holder did not write its failure over the new state');
  await h.assertMirrorExact(t);
  await assertTokenIsCurrent(t, h);
});

t.test('a calendar whose holder died mid-sync is claimed again once the lease runs out, with its requests intact', async (t) => {
  const h = await startSyncHarness(t, 'sync-dead-holder');
  h.seed(6);
  // Not claiming in the background yet: on a slow machine its poll could take the expired calendar
  // before the sweep below looks at it.
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  h.seed(2, 50);
  const live = await createCalendarRow(h.models, 'held@example.com', {
    state: 'syncing',
    syncHeldBy: 'alive',
    syncNotBefore: new Date(Date.now() + 60_000),
    dueAt: new Date(),
    priority: PRIORITY.ping,
  });
  // What a holder that crashed leaves: lease taken, a ping's request recorded, lease now expired.
  await h.models.Calendar.updateOne(
    { _id: h.calendarId },
    { $set: { state: 'syncing', syncHeldBy: 'crashed', syncNotBefore: new Date(Date.now() - 1000), dueAt: new Date(), priority: PRIORITY.ping } },
  );
  t.same(await engine.sweepStuckSyncs(), [h.calendarId], 'the sweep shows only the expired one as failed');
  t.equal((await h.calendar()).lastError?.code, 'lease_expired');
  engine.start();
  await waitFor(() => h.outcomes.length >= 2);
  await engine.onIdle();
  t.match(h.outcomes.at(-1), { reason: 'ping', mode: 'incremental', status: 'ok', eventsChanged: 2 }, 'reclaimed without any sweep');
  const cal = await h.calendar();
  t.equal(cal.state, 'idle');
  t.equal(cal.syncHeldBy, null);
  t.match(cal.counters, { failed: 1 });
  t.equal((await h.models.Calendar.findById(live).lean())?.syncHeldBy, 'alive', 'a live lease is left alone');
  await h.assertMirrorExact(t);
});

t.test('a burst of pings for one calendar costs at most one pass more than a single ping', async (t) => {
  const h = await startSyncHarness(t, 'sync-ping-burst');
  h.seed(3);
  const engine = h.engine({}, { start: true });
  await Promise.all(Array.from({ length: 100 }, () => engine.requestSync(h.calendarId, { reason: 'ping' })));
  await waitFor(() => h.outcomes.length >= 1);
  await engine.onIdle();
  t.ok(h.outcomes.length <= 2, `100 requests, ${h.outcomes.length} pass(es)`);
  t.ok((h.emu.stats()['events.list'] ?? 0) <= 2);
  t.equal((await h.calendar()).priority, IDLE_PRIORITY, 'every request was consumed');
  await h.assertMirrorExact(t);
});

t.test('requested syncs run with bounded concurrency', async (t) => {
  const h = await startSyncHarness(t, 'sync-bounded', { SYNC_CONCURRENCY: '2' });
  h.emu.addFault({ method: 'events.list', latencyMs: 15 });
  const ids = [h.calendarId];
  for (let i = 0; i < 5; i++) {
    const gcal = `extra-${i}@group.calendar.google.com`;
    h.emu.createCalendar(gcal);
    h.emu.insertEvent(gcal, { summary: 'x', start: { dateTime: new Date(Date.now() + 86_400_000).toISOString() }, end: { dateTime: new Date(Date.now() + 90_000_000).toISOString() } });
    ids.push(await createCalendarRow(h.models, gcal));
  }
  const tracker = { active: 0, max: 0 };
  // The first call waits for a second one to be in flight, so the test proves that two syncs do
  // run side by side (whatever the machine's load) and that a third never joins them.
  const two = deferred();
  const client = h.client(REFRESH_TOKEN);
  const list = client.events.list.bind(client.events) as (...args: unknown[]) => Promise<unknown>;
  const gated = {
    events: {
      list: async (...args: unknown[]) => {
        tracker.max = Math.max(tracker.max, ++tracker.active);
        try {
          if (tracker.active >= 2) two.resolve();
          await two.promise;
          return await list(...args);
        } finally {
          tracker.active--;
        }
      },
    },
  } as unknown as calendar_v3.Calendar;
  const engine = h.engine({ clientFor: () => gated }, { start: true });
  await Promise.all(ids.map((id) => engine.requestSync(id, { reason: 'cron' })));
  await waitFor(() => h.outcomes.length >= ids.length);
  await engine.onIdle();
  t.equal(h.outcomes.filter((o) => o.status === 'ok').length, ids.length);
  t.equal(tracker.max, 2, 'two at a time, never more');
});

t.test('closing the engine aborts a sync waiting out a backoff, keeps the token and leaves the request pending', async (t) => {
  const h = await startSyncHarness(t, 'sync-close');
  h.seed(4);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const token = await h.token();
  h.emu.addFault({ method: 'events.list', status: 503, count: 50 });
  const backingOff = deferred();
  const closing = h.engine(
    {
    sleep: (_ms, signal) =>
      new Promise((_, reject) => {
        backingOff.resolve();
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    },
  );
  const run = closing.syncCalendar(h.calendarId);
  await backingOff.promise;
  await closing.close();
  t.match((await run).passes, [{ status: 'aborted', errorCode: 'aborted' }]);
  t.equal(await h.token(), token);
  const cal = await h.calendar();
  t.equal(cal.syncHeldBy, null, 'the lease is released at once');
  t.ok(cal.dueAt.getTime() <= Date.now() && cal.syncNotBefore.getTime() <= Date.now(), 'the request stays, claimable by anyone now');
  t.equal(cal.counters.failed, 0, 'a shutdown is not a failure');
  h.emu.clearFaults();
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }]);
  await h.assertMirrorExact(t);
});
