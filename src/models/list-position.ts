import type { Collection, Connection, Types } from 'mongoose';

/**
 * Calendars' positions in the admin and dashboard lists: a number from one counter, taken when a
 * calendar is stored, so the lists can be paged by a *bounded* range on { listSeq } (or
 * { state, listSeq }): a window of W positions holds at most W calendars. Paging by `_id > cursor`
 * instead costs O(calendars after the cursor) on planners that read every index match before
 * applying the limit (SecantusDB), which made a page half-way through 10,000 calendars take ~0.9 s.
 * Positions are unique (every one comes from the counter's atomic $inc) but may have gaps (a
 * deleted calendar, a failed insert); the pager widens its window over gaps.
 */
const COUNTER_ID = 'calendar-list';

const counters = (conn: Connection): Collection<{ _id: string; n: number }> => conn.collection('calsync_counters');

/** Reserves `count` consecutive positions; returns the first. */
export async function reserveListPositions(conn: Connection, count: number): Promise<number> {
  const doc = await counters(conn).findOneAndUpdate({ _id: COUNTER_ID }, { $inc: { n: count } }, { upsert: true, returnDocument: 'after' });
  if (!doc) throw new Error('list position counter missing after upsert');
  return doc.n - count + 1;
}

/** The highest position handed out so far (0 before any): where the pager stops. */
export async function lastListPosition(conn: Connection): Promise<number> {
  return (await counters(conn).findOne({ _id: COUNTER_ID }))?.n ?? 0;
}

/**
 * Numbers calendars stored without a position (written before positions existed, or inserted
 * around the model), in _id order, in batches. Idempotent and safe under concurrent replicas: each
 * write is conditional on the calendar still having none, so a calendar racing replicas both
 * number keeps the first one (the other's reserved position becomes a gap). When every calendar has
 * a position it costs one index lookup that matches nothing.
 */
export async function numberUnlistedCalendars(conn: Connection, batchSize = 1000): Promise<number> {
  const calendars = conn.collection<{ _id: Types.ObjectId; listSeq?: number | null }>('calendars');
  const cursor = calendars.find({ listSeq: null }, { projection: { _id: 1 } }).sort({ _id: 1 });
  let numbered = 0;
  let batch: Types.ObjectId[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const first = await reserveListPositions(conn, batch.length);
    const res = await calendars.bulkWrite(
      batch.map((_id, i) => ({ updateOne: { filter: { _id, listSeq: null }, update: { $set: { listSeq: first + i } } } })),
      { ordered: false },
    );
    numbered += res.modifiedCount;
    batch = [];
  };
  for await (const doc of cursor) {
    batch.push(doc._id);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return numbered;
}
