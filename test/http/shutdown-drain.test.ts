import t from 'tap';
import { startFleet } from '../helpers/fleet.js';
import { eventBody } from '../helpers/sync-harness.js';
import { waitFor } from '../helpers/wait-for.js';

// A replica spawned through the real server entry (src/server.ts) takes seconds to boot.
t.setTimeout(180_000);

t.test('SIGTERM: readiness turns 503 at once, pings that still arrive are recorded and answered 200, then the server exits', async (t) => {
  const fleet = await startFleet(t, { name: 'shutdown-drain', env: { CRON_ENABLED: 'false', SHUTDOWN_DRAIN_SECONDS: '3' } });
  const replica = await fleet.spawnReplica();
  const gcal = 'drain@group.calendar.google.com';
  const calendarId = await fleet.register(gcal);
  await waitFor(async () => Boolean((await fleet.models.Calendar.findById(calendarId).lean())?.lastSyncedAt), { what: 'the first sync' });

  const signalledAt = Date.now();
  replica.child.kill('SIGTERM');
  await waitFor(async () => (await fetch(`${replica.url}/readyz`)).status === 503, { timeoutMs: 2_000, what: 'readiness to turn 503' });
  t.same(await (await fetch(`${replica.url}/readyz`)).json(), { status: 'draining', reason: 'shutting down' });
  t.equal((await fetch(`${replica.url}/healthz`)).status, 200, 'still alive meanwhile');

  // A change at Google while the balancer still routes here: its ping lands on the draining replica.
  const before = fleet.emu.pingStats();
  fleet.emu.insertEvent(gcal, eventBody(1));
  const answered = (s: typeof before) => s.delivered + s.failed;
  await waitFor(() => answered(fleet.emu.pingStats()) > answered(before), { timeoutMs: 2_000, what: 'the ping to be answered' });
  const after = fleet.emu.pingStats();
  t.equal(after.delivered - before.delivered, 1, 'answered 200 on the first attempt');
  t.equal(after.failed + after.retried - (before.failed + before.retried), 0, 'no 503, so nothing for Google to retry');
  t.ok(Date.now() - signalledAt < 3_000, 'all within the drain');

  t.equal(await replica.exited, 0, 'then a graceful exit');
  t.ok(Date.now() - signalledAt >= 3_000, `not before the drain ended (${Date.now() - signalledAt} ms)`);
  // The change reached the mirror before the exit, or stays requested for whoever runs next.
  const cal = await fleet.models.Calendar.findById(calendarId).lean();
  const synced = await fleet.mirrorsExact();
  t.ok(synced || (cal?.requests ?? 0) > 0, `the ping's change is mirrored (${synced}) or still requested (${cal?.requests})`);
});

t.test('SIGINT (a terminal) skips the drain', async (t) => {
  const fleet = await startFleet(t, { name: 'shutdown-sigint', env: { CRON_ENABLED: 'false', SHUTDOWN_DRAIN_SECONDS: '10' } });
  const replica = await fleet.spawnReplica();
  const signalledAt = Date.now();
  replica.child.kill('SIGINT');
  t.equal(await replica.exited, 0);
  t.ok(Date.now() - signalledAt < 8_000, `exited in ${Date.now() - signalledAt} ms, without the 10 s drain`);
});
