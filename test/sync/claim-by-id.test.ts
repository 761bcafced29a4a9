import t from 'tap';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { createCalendarRow, interfereBeforeWrite, openSyncTestDb, type SyncTestDb } from '../helpers/sync-db.js';

const LEASE_MS = 60_000;

/** Every operation the connection sends to the calendars collection, as `method` names. */
function recordCalendarOps(db: SyncTestDb): string[] {
  const ops: string[] = [];
  db.conn.set('debug', (collection: string, method: string) => {
    if (collection === 'calendars') ops.push(method);
  });
  return ops;
}

async function dueCalendar(db: SyncTestDb, name: string, now: Date): Promise<string> {
  const id = await createCalendarRow(db.models, `${name}@group.calendar.google.com`);
  await new SyncStateRepository(db.models.Calendar).request(id, { priority: PRIORITY.ping }, now);
  return id;
}

t.test('a calendar another replica holds costs a claim one read and no write', async (t) => {
  const db = await openSyncTestDb(t, 'claim-by-id-held');
  const state = new SyncStateRepository(db.models.Calendar);
  const now = new Date();
  const id = await dueCalendar(db, 'held', now);
  t.ok(await state.claim({ owner: 'a', leaseMs: LEASE_MS, now, calendarId: id }), 'replica a claims it');

  const ops = recordCalendarOps(db);
  t.equal(await state.claim({ owner: 'b', leaseMs: LEASE_MS, now, calendarId: id }), null, 'replica b does not');
  t.same(ops, ['findOne'], 'b read the calendar and wrote nothing');

  const notDue = await createCalendarRow(db.models, 'idle@group.calendar.google.com');
  ops.length = 0;
  t.equal(await state.claim({ owner: 'b', leaseMs: LEASE_MS, now, calendarId: notDue }), null, 'a calendar with no request is not claimed');
  t.same(ops, ['findOne'], 'nor written');
});

t.test('twenty replicas claiming one due calendar at once: exactly one holds it', async (t) => {
  const db = await openSyncTestDb(t, 'claim-by-id-race');
  const now = new Date();
  const id = await dueCalendar(db, 'race', now);
  const states = Array.from({ length: 20 }, () => new SyncStateRepository(db.models.Calendar));
  const results = await Promise.all(states.map((s, i) => s.claim({ owner: `r${i}`, leaseMs: LEASE_MS, now, calendarId: id })));
  const winners = results.filter((r) => r !== null);
  t.equal(winners.length, 1, 'one winner');
  const doc = await db.models.Calendar.findById(id, { syncHeldBy: 1, syncEpoch: 1 }).lean();
  t.equal(doc?.syncHeldBy, winners[0]!.held.owner, 'the winner is the holder');
  t.equal(doc?.syncEpoch, 1, 'one claim bumped the epoch');
  t.equal(winners[0]!.held.epoch, 1, 'and the winner holds that epoch');
});

t.test('the claim lands only on the calendar as it was read', async (t) => {
  const db = await openSyncTestDb(t, 'claim-by-id-cas');
  const now = new Date();

  await t.test('a request arriving between the read and the write fails the claim; the next claim has its count', async (t) => {
    const id = await dueCalendar(db, 'request-between', now);
    const racing = new SyncStateRepository(
      interfereBeforeWrite(db.models.Calendar, () => db.models.Calendar.updateOne({ _id: id }, { $inc: { requests: 1 } })),
    );
    t.equal(await racing.claim({ owner: 'a', leaseMs: LEASE_MS, now, calendarId: id }), null, 'the claim lost');
    const doc = await db.models.Calendar.findById(id, { syncHeldBy: 1, syncEpoch: 1, requests: 1 }).lean();
    t.match(doc, { syncHeldBy: null, syncEpoch: 0, requests: 2 }, 'nothing was taken, both requests kept');
    const claimed = await new SyncStateRepository(db.models.Calendar).claim({ owner: 'a', leaseMs: LEASE_MS, now, calendarId: id });
    t.equal(claimed?.requests, 2, 'the next claim covers both requests (so its pass consumes them)');
  });

  await t.test('another replica claiming between the read and the write', async (t) => {
    const id = await dueCalendar(db, 'claim-between', now);
    const other = new SyncStateRepository(db.models.Calendar);
    const racing = new SyncStateRepository(
      interfereBeforeWrite(db.models.Calendar, () => other.claim({ owner: 'b', leaseMs: LEASE_MS, now, calendarId: id })),
    );
    t.equal(await racing.claim({ owner: 'a', leaseMs: LEASE_MS, now, calendarId: id }), null, 'a lost');
    t.match(await db.models.Calendar.findById(id, { syncHeldBy: 1, syncEpoch: 1 }).lean(), { syncHeldBy: 'b', syncEpoch: 1 }, 'b holds it');
  });

  await t.test('a stalled holder releasing between the read and the write', async (t) => {
    // Holder a claimed long ago and stalled: its lease has run out, so the calendar is claimable.
    const long = new Date(now.getTime() - 10 * LEASE_MS);
    const id = await dueCalendar(db, 'release-between', long);
    const stale = await new SyncStateRepository(db.models.Calendar).claim({ owner: 'a', leaseMs: LEASE_MS, now: long, calendarId: id });
    t.ok(stale, 'a held it');
    // a wakes and lets go (a shutdown's release) just as b claims.
    const racing = new SyncStateRepository(
      interfereBeforeWrite(db.models.Calendar, () =>
        db.models.Calendar.updateOne({ _id: id, syncHeldBy: 'a', syncEpoch: stale!.held.epoch }, { $set: { syncHeldBy: null, syncNotBefore: new Date(0), state: 'idle' } }),
      ),
    );
    t.equal(await racing.claim({ owner: 'b', leaseMs: LEASE_MS, now, calendarId: id }), null, 'b lost: what it read is no longer the calendar');
    const claimed = await new SyncStateRepository(db.models.Calendar).claim({ owner: 'b', leaseMs: LEASE_MS, now, calendarId: id });
    t.ok(claimed, 'the next claim takes it');
    t.equal(claimed?.reclaimed, false, 'and is not a reclaim: a released the lease');
  });
});
