import t from 'tap';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { IDLE_PRIORITY, PRIORITY } from '../../src/sync/priority.js';
import { createCalendarRow, openSyncTestDb, type SyncTestDb } from '../helpers/sync-db.js';

/** Every operation the connection sends to the calendars collection, as `method` names. */
function recordCalendarOps(db: SyncTestDb): string[] {
  const ops: string[] = [];
  db.conn.set('debug', (collection: string, method: string) => {
    if (collection === 'calendars') ops.push(method);
  });
  return ops;
}

async function scheduling(db: SyncTestDb, id: string) {
  const doc = await db.models.Calendar.findById(id, { requests: 1, priority: 1, dueAt: 1, syncHeldBy: 1 }).lean();
  if (!doc) throw new Error('calendar gone');
  return { requests: doc.requests, priority: doc.priority, dueAt: doc.dueAt };
}

t.test('a request covered by a pending one, while no pass holds the calendar, costs one read and no write', async (t) => {
  const db = await openSyncTestDb(t, 'request-coalesce-pending');
  const state = new SyncStateRepository(db.models.Calendar);
  const id = await createCalendarRow(db.models, 'pending@group.calendar.google.com');
  const now = new Date();

  t.ok(await state.request(id, { priority: PRIORITY.ping }, now), 'the first request is recorded');
  t.match(await scheduling(db, id), { requests: 1, priority: PRIORITY.ping, dueAt: now });

  const ops = recordCalendarOps(db);
  const later = new Date(now.getTime() + 1_000);
  for (let i = 0; i < 5; i++) t.same(await state.request(id, { priority: PRIORITY.ping }, later), { notBefore: new Date(0), held: false });
  t.same(ops, ['findOne', 'findOne', 'findOne', 'findOne', 'findOne'], 'five covered requests: five reads by id, no write');
  t.match(await scheduling(db, id), { requests: 1, priority: PRIORITY.ping, dueAt: now }, 'the pending request is untouched');
});

t.test('a request is written when it adds something: a pass holds the calendar, or it is more urgent or due sooner', async (t) => {
  const db = await openSyncTestDb(t, 'request-coalesce-writes');
  const state = new SyncStateRepository(db.models.Calendar);
  const id = await createCalendarRow(db.models, 'writes@group.calendar.google.com');
  const now = new Date();

  // The safety net marked the calendar, due a little later (its marks are jittered).
  const jittered = new Date(now.getTime() + 30_000);
  await state.request(id, { priority: PRIORITY.safetyNet, at: jittered }, now);
  t.match(await scheduling(db, id), { requests: 1, priority: PRIORITY.safetyNet, dueAt: jittered });

  await state.request(id, { priority: PRIORITY.ping }, now);
  t.match(await scheduling(db, id), { requests: 2, priority: PRIORITY.ping, dueAt: now }, 'a ping raises the urgency and brings the due time forward');

  // A pass holds the calendar: a request made now may not be covered by it, so it is counted.
  const claimed = await state.claim({ owner: 'holder', leaseMs: 60_000, now, calendarId: id });
  t.ok(claimed, 'claimed');
  t.same(await state.request(id, { priority: PRIORITY.ping }, now), { notBefore: new Date(now.getTime() + 60_000), held: true });
  t.match(await scheduling(db, id), { requests: 3 }, 'a request during a pass is written for the holder to see');

  // A full request, or an operator's, is always written.
  await state.release(claimed!, { until: now });
  await state.request(id, { priority: PRIORITY.ping, full: true }, now);
  t.match(await db.models.Calendar.findById(id, { requests: 1, pendingFullSync: 1 }).lean(), { requests: 4, pendingFullSync: true });
  await state.request(id, { priority: PRIORITY.recovery, force: true }, now);
  t.match(await scheduling(db, id), { requests: 5 });
});

t.test('a calendar that takes no request answers null without a write', async (t) => {
  const db = await openSyncTestDb(t, 'request-coalesce-refused');
  const state = new SyncStateRepository(db.models.Calendar);
  const parked = await createCalendarRow(db.models, 'parked@group.calendar.google.com', { state: 'needs_attention' });
  const retired = await createCalendarRow(db.models, 'retired@group.calendar.google.com', { state: 'retired' });
  const ops = recordCalendarOps(db);
  t.equal(await state.request(parked, { priority: PRIORITY.ping }, new Date()), null);
  t.equal(await state.request(retired, { priority: PRIORITY.ping }, new Date()), null);
  t.equal(await state.request('6b0be50495d4319b93a643b4', { priority: PRIORITY.ping }, new Date()), null, 'unknown calendar');
  t.same(ops, ['findOne', 'findOne', 'findOne']);
  t.match(await scheduling(db, parked), { requests: 0, priority: IDLE_PRIORITY });
});
