import t from 'tap';
import { Types } from 'mongoose';
import { runSafetyNet } from '../../src/cron/safety-net.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { IDLE_PRIORITY, PRIORITY } from '../../src/sync/priority.js';
import { openSyncTestDb } from '../helpers/sync-db.js';

// The safety net runs on every replica every tick: its reads must stay on an index whatever the
// fleet's size, or each tick costs a scan of every calendar per replica.
t.test("the safety net's reads are index scans of calendars without a request, and its marks are exact", async (t) => {
  const db = await openSyncTestDb(t, 'safety-net-reads');
  const { Calendar } = db.models;
  await Calendar.init();
  const now = Date.now();
  const accountId = new Types.ObjectId();
  const row = (i: number, fields: Record<string, unknown>) => ({ accountId, googleCalendarId: `c${i}@group.calendar.google.com`, ...fields });
  const hoursAgo = (h: number) => new Date(now - h * 3_600_000);
  await Calendar.insertMany([
    ...Array.from({ length: 120 }, (_, i) => row(i, { lastSyncedAt: new Date(now - 60_000) })), // fresh
    ...Array.from({ length: 30 }, (_, i) => row(200 + i, { lastSyncedAt: hoursAgo(2) })), // stale push
    ...Array.from({ length: 10 }, (_, i) => row(300 + i, { lastSyncedAt: hoursAgo(2), state: 'failed' })), // stale, failed
    ...Array.from({ length: 10 }, (_, i) => row(400 + i, { lastSyncedAt: new Date(now - 20 * 60_000), mode: 'polling' })), // poll due
    ...Array.from({ length: 5 }, (_, i) => row(500 + i, { lastSyncedAt: null })), // never synced
    ...Array.from({ length: 20 }, (_, i) => row(600 + i, { lastSyncedAt: hoursAgo(2), priority: PRIORITY.ping, dueAt: new Date(now) })), // already requested
    ...Array.from({ length: 10 }, (_, i) => row(700 + i, { lastSyncedAt: hoursAgo(2), state: 'needs_attention' })),
    ...Array.from({ length: 5 }, (_, i) => row(800 + i, { lastSyncedAt: hoursAgo(2), state: 'retired' })),
  ]);

  const reads: Array<Record<string, unknown>> = [];
  db.conn.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
    if (collection === 'calendars' && method === 'find') reads.push(filter);
  });
  const deps = { Calendar, state: new SyncStateRepository(Calendar), staleMinutes: 30, pollMinutes: 10, jitterMs: 0, now: () => new Date(now) };
  const first = await runSafetyNet(deps);
  db.conn.set('debug', false);

  t.same(first.marked, { stale: 40, never_synced: 5, polling: 10 }, 'every stale, never-synced and poll-due calendar marked once; none requested, parked or retired');
  t.equal(await Calendar.countDocuments({ priority: PRIORITY.safetyNet }), 55);
  t.equal(await Calendar.countDocuments({ state: { $in: ['needs_attention', 'retired'] }, priority: { $ne: IDLE_PRIORITY } }), 0);
  t.equal(await Calendar.countDocuments({ priority: PRIORITY.ping, dueAt: new Date(now) }), 20, 'a pending request is left as it was');

  t.ok(reads.length > 0, 'the reads were seen');
  for (const filter of reads) {
    const plan = JSON.stringify(await Calendar.find(filter, { _id: 1 }).explain('queryPlanner'));
    t.notMatch(plan, /COLLSCAN/, `no collection scan: ${JSON.stringify(filter)}`);
    t.match(plan, /IXSCAN/, 'an index scan');
  }

  const second = await runSafetyNet(deps);
  t.same(second.marked, { stale: 0, never_synced: 0, polling: 0 }, 'a second tick marks nothing: marked calendars have left the ranges it reads');
});
