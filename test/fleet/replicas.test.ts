import t from 'tap';
import { Types } from 'mongoose';
import { runSafetyNet } from '../../src/cron/safety-net.js';
import { IDLE_PRIORITY, NEVER } from '../../src/sync/priority.js';
import { startFleet } from '../helpers/fleet.js';
import { TcpProxy, uriThroughProxy } from '../helpers/tcp-proxy.js';
import { eventBody } from '../helpers/sync-harness.js';
import { waitFor } from '../helpers/wait-for.js';

// A thousand syncs and several server processes on a Python database server.
t.setTimeout(900_000);

t.test('a stale fleet costs one events.list per calendar with three replicas running the safety net at once', async (t) => {
  const fleet = await startFleet(t, { name: 'fleet-stale', apps: 3 });
  const accountId = new Types.ObjectId(await fleet.accountId());
  const longAgo = new Date(Date.now() - 2 * 60 * 60_000);
  // The fleet the issue names. Its thousands of writes go to this file's own database server
  // (test/helpers/file-db.ts), so they never starve the files running beside it.
  const STALE = 1000;
  const docs = Array.from({ length: STALE }, (_, i) => {
    const googleCalendarId = `stale-${i}@group.calendar.google.com`;
    fleet.emu.createCalendar(googleCalendarId);
    // Registered long ago with a channel and a token; nothing pinged since (pings were dropped).
    return { accountId, googleCalendarId, state: 'idle', lastSyncedAt: longAgo, priority: IDLE_PRIORITY, dueAt: NEVER };
  });
  await fleet.models.Calendar.insertMany(docs);
  const before = fleet.emu.stats()['events.list'] ?? 0;

  // The cron tick fires on every replica at the same moment (marks spread over 5 s).
  const reports = await Promise.all(
    fleet.apps.map((app) => runSafetyNet({ Calendar: fleet.models.Calendar, state: app.services.engine.state, staleMinutes: 30, pollMinutes: 10, jitterMs: 5000 })),
  );
  const marked = reports.reduce((n, r) => n + r.marked.stale, 0);
  t.equal(marked, STALE, `each calendar was marked once across the three replicas (${reports.map((r) => r.marked.stale).join(' + ')})`);

  await waitFor(async () => (await fleet.models.Calendar.countDocuments({ priority: { $lt: IDLE_PRIORITY } })) === 0, {
    timeoutMs: 700_000,
    what: 'every marked calendar to be synced',
  });
  await Promise.all(fleet.apps.map((app) => app.services.engine.onIdle()));
  t.equal((fleet.emu.stats()['events.list'] ?? 0) - before, STALE, 'events.list calls equal the calendar count');
  t.equal(await fleet.models.Calendar.countDocuments({ 'counters.full': { $ne: 1 } }), 0, 'each calendar synced exactly once');
  const owners = await fleet.models.Calendar.distinct('syncEpoch');
  t.same(owners, [1], 'one claim per calendar');

  const again = await Promise.all(
    fleet.apps.map((app) => runSafetyNet({ Calendar: fleet.models.Calendar, state: app.services.engine.state, staleMinutes: 30, pollMinutes: 10, jitterMs: 0 })),
  );
  t.equal(again.reduce((n, r) => n + r.marked.stale, 0), 0, 'a second tick finds nothing stale');
});

t.test('pings spread over three replicas by a load balancer: every change is mirrored', async (t) => {
  const fleet = await startFleet(t, { name: 'fleet-pings', apps: 3 });
  const ids: string[] = [];
  const gcals = Array.from({ length: 12 }, (_, i) => `spread-${i}@group.calendar.google.com`);
  for (const g of gcals) ids.push(await fleet.register(g));
  await waitFor(async () => (await fleet.models.Calendar.countDocuments({ lastSyncedAt: null })) === 0, { what: 'the first full syncs' });

  for (let round = 0; round < 3; round++) {
    for (const [i, g] of gcals.entries()) fleet.emu.insertEvent(g, eventBody(round * 100 + i));
  }
  await waitFor(() => fleet.mirrorsExact(), { timeoutMs: 60_000, what: 'every mirror to match Google' }).catch(async (err: unknown) => {
    t.comment(await fleet.diagnose());
    throw err;
  });
  t.ok(await fleet.mirrorsExact(), 'every mirror equals Google');
  const served = [...fleet.lb.served.values()];
  t.equal(served.length, 3, 'every replica took requests');
  t.ok(served.every((n) => n > 5), `requests per replica: ${served.join(', ')}`);
});

t.test('SIGTERM of a replica during a ping burst: the mirror is exact without waiting for the safety net', async (t) => {
  // Pacing keeps requests waiting in the database while the burst goes on; no cron runs, so only
  // the recorded requests can bring the mirror up to date. No drain (test/http/shutdown-drain.test.ts
  // has it): the replica closes mid-burst, with work and pings in flight.
  const fleet = await startFleet(t, { name: 'fleet-sigterm', env: { SYNC_MIN_INTERVAL_MS: '1500', CRON_ENABLED: 'false', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_SECONDS: '0' } });
  const doomed = await fleet.spawnReplica();
  const survivor = await fleet.spawnReplica();
  const gcals = Array.from({ length: 6 }, (_, i) => `term-${i}@group.calendar.google.com`);
  for (const g of gcals) await fleet.register(g);
  await waitFor(async () => (await fleet.models.Calendar.countDocuments({ lastSyncedAt: null })) === 0, { what: 'the first full syncs' });

  let n = 0;
  const change = () => {
    const g = gcals[n % gcals.length]!;
    fleet.emu.insertEvent(g, eventBody(1000 + n++));
  };
  for (let i = 0; i < 24; i++) {
    change();
    if (i === 12) doomed.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
  }
  t.equal(await doomed.exited, 0, 'the replica shut down gracefully');
  const stopped = Date.now();
  // Checked at once: a lease left behind would hold its calendar for SYNC_LEASE_SECONDS (120 s).
  const held = await fleet.models.Calendar.find({ syncHeldBy: { $ne: null } }, { syncHeldBy: 1 }).lean();
  t.notOk(held.some((c) => c.syncHeldBy?.includes(`:${doomed.child.pid}:`)), 'the stopped replica left no lease behind');

  await waitFor(() => fleet.mirrorsExact(), { timeoutMs: 30_000, what: 'the mirror to converge after the SIGTERM' }).catch(async (err: unknown) => {
    t.comment(await fleet.diagnose([doomed, survivor]));
    throw err;
  });
  t.ok(await fleet.mirrorsExact(), `every change is mirrored ${Date.now() - stopped} ms after the shutdown (RESYNC_STALE_MINUTES is 30)`);
});

t.test('SIGTERM of a replica whose database answers slowly: a claim in flight at the signal is let go before it exits', async (t) => {
  // Every round trip of this replica takes 150 ms more, so the SIGTERM is likely to find a claim (a
  // lease write) on its way. That claim lands after the signal; the replica must still let it go
  // before it closes the database and exits, or the calendar waits out SYNC_LEASE_SECONDS (120 s).
  // The replica is alone during the burst, so it claims whatever is due.
  const fleet = await startFleet(t, { name: 'fleet-sigterm-slow', env: { SYNC_MIN_INTERVAL_MS: '1500', CRON_ENABLED: 'false', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_SECONDS: '0' } });
  const real = new URL(fleet.dbUri);
  const proxy = new TcpProxy(real.hostname, Number(real.port || 27017), { latencyMs: 150 });
  await proxy.start();
  t.teardown(() => proxy.stop());
  // Pings the stopping replica turns away (503) are retried until the survivor below is up (its
  // start takes seconds), as Google keeps retrying with exponential backoff: 10 attempts span 51 s.
  fleet.emu.setPings({ maxAttempts: 10 });
  const doomed = await fleet.spawnReplica({ MONGODB_URI: uriThroughProxy(fleet.dbUri, proxy.port) });
  const gcals = Array.from({ length: 6 }, (_, i) => `slow-${i}@group.calendar.google.com`);
  for (const g of gcals) await fleet.register(g);
  await waitFor(async () => (await fleet.models.Calendar.countDocuments({ lastSyncedAt: null })) === 0, { timeoutMs: 60_000, what: 'the first full syncs' });

  for (let i = 0; i < 24; i++) {
    fleet.emu.insertEvent(gcals[i % gcals.length]!, eventBody(2000 + i));
    if (i === 12) doomed.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
  }
  t.equal(await doomed.exited, 0, 'the replica shut down gracefully');
  const held = await fleet.models.Calendar.find({ syncHeldBy: { $ne: null } }, { googleCalendarId: 1, syncHeldBy: 1 }).lean();
  t.same(held, [], 'no calendar is left held');

  fleet.lb.backends.splice(0);
  const survivor = await fleet.spawnReplica();
  await waitFor(() => fleet.mirrorsExact(), { timeoutMs: 30_000, what: 'the mirror to converge after the SIGTERM' }).catch(async (err: unknown) => {
    t.comment(await fleet.diagnose([doomed, survivor]));
    throw err;
  });
  t.ok(await fleet.mirrorsExact(), 'every change is mirrored, well within the lease time');
});

t.test('SIGKILL of a replica mid-sync: its calendar is claimed by another once the lease runs out', async (t) => {
  const fleet = await startFleet(t, { name: 'fleet-sigkill', env: { SYNC_LEASE_SECONDS: '5', CRON_ENABLED: 'false' } });
  const a = await fleet.spawnReplica();
  const b = await fleet.spawnReplica();
  const gcal = 'killed@group.calendar.google.com';
  const id = await fleet.register(gcal);
  await waitFor(async () => (await fleet.models.Calendar.countDocuments({ lastSyncedAt: null })) === 0, { what: 'the first full sync' });

  // The next listing hangs long enough for the holder to be killed with the lease in hand.
  fleet.emu.addFault({ method: 'events.list', latencyMs: 20_000, count: 1 });
  fleet.emu.insertEvent(gcal, eventBody(1));
  await waitFor(async () => Boolean((await fleet.models.Calendar.findById(id).lean())?.syncHeldBy), { what: 'a replica to hold the sync' });
  const held = await fleet.models.Calendar.findById(id).lean();
  const holder = [a, b].find((r) => held?.syncHeldBy?.includes(`:${r.child.pid}:`));
  t.ok(holder, `the holder is one of the replicas (${held?.syncHeldBy})`);
  holder!.child.kill('SIGKILL');
  await holder!.exited;
  const killedAt = Date.now();

  await waitFor(() => fleet.mirrorsExact(), { timeoutMs: 90_000, what: 'the survivor to reclaim the calendar' }).catch(async (err: unknown) => {
    t.comment(await fleet.diagnose([a, b]));
    throw err;
  });
  const after = await fleet.models.Calendar.findById(id).lean();
  t.ok(await fleet.mirrorsExact(), 'the change reached the mirror');
  t.ok(Date.now() - killedAt >= 3_000, 'not before the lease ran out');
  t.ok((after?.syncEpoch ?? 0) > (held?.syncEpoch ?? 0), 'a later claim ran the sync');
  await waitFor(async () => !(await fleet.models.Calendar.findById(id).lean())?.syncHeldBy, { what: 'the survivor to release the calendar' });
});
