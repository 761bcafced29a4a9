import type { AnyBulkWriteOperation, Types } from 'mongoose';
import type { EventModel } from '../models/event.js';
import { changeModel, type ChangeModel } from './change-model.js';
import { changedFields } from './diff.js';
import { FeedPositions, type Reservation } from './positions.js';

/**
 * Writes the change log with the mirror, as an outbox: before a page's mirror writes, the current
 * mirror documents of the page's events are read (one indexed find), the writes are compared with
 * them, and one record per real difference is inserted; then the mirror is written. MongoDB
 * transactions are not used: they need a replica set on every database calsync supports, and a
 * page must never fail because a transaction conflicted. Instead:
 *
 * - A crash after the records and before the mirror write leaves records for writes the replayed
 *   page then makes: the unique (calendar, event, etag, type) index turns the replay's records into
 *   no-ops, and the mirror converges on the same etags.
 * - A mirror write that fails (a fenced, stale lease holder) removes the page's records before its
 *   positions become visible, so the feed never shows a change the mirror refused.
 * - A page whose events are unchanged (same etag) appends nothing: a 410 re-sync appends only real
 *   differences.
 */

type MirrorOp = AnyBulkWriteOperation<Record<string, unknown>>;

interface Mirrored {
  etag: string;
  status: string | null;
  recurringEventId: string | null;
  data: Record<string, unknown> | null;
}

export interface NewChange {
  calendarId: Types.ObjectId;
  googleEventId: string;
  type: 'created' | 'updated' | 'deleted';
  etag: string;
  seenAt: Date;
  event?: Record<string, unknown>;
  changed?: Record<string, unknown>;
}

const recorders = new WeakMap<object, { Change: ChangeModel; positions: FeedPositions }>();
function recorderFor(Event: EventModel) {
  let r = recorders.get(Event.db);
  if (!r) {
    r = { Change: changeModel(Event.db), positions: new FeedPositions(Event.db) };
    recorders.set(Event.db, r);
  }
  return r;
}

const regexOf = (f: unknown): RegExp | null => {
  const re = (f as { $regex?: string } | undefined)?.$regex;
  return typeof re === 'string' ? new RegExp(re) : null;
};

/**
 * The changes `ops` (src/sync/mirror-writer.ts's page: upserts with `$set`, deleteOne, and the
 * deleteMany of a deleted series' cancelled occurrences) make to the mirror, in order.
 */
async function pageChanges(Event: EventModel, calendarId: Types.ObjectId, ops: MirrorOp[], seenAt: Date): Promise<NewChange[]> {
  const ids = new Set<string>();
  const prefixes: RegExp[] = [];
  for (const op of ops) {
    if ('updateOne' in op) ids.add(String(op.updateOne.filter.googleEventId));
    else if ('deleteOne' in op) ids.add(String(op.deleteOne.filter.googleEventId));
    else if ('deleteMany' in op) {
      const re = regexOf(op.deleteMany.filter.googleEventId);
      if (re) prefixes.push(re);
    }
  }
  const projection = { googleEventId: 1, etag: 1, status: 1, recurringEventId: 1, data: 1 };
  // Equality / $in / prefix regex on the unique index's fields only (anything more makes SecantusDB scan).
  const found = await Event.find({ calendarId, googleEventId: { $in: [...ids] } }, projection).lean();
  for (const re of prefixes) found.push(...(await Event.find({ calendarId, googleEventId: { $regex: re.source } }, projection).lean()));
  const state = new Map<string, Mirrored>();
  for (const d of found) {
    state.set(d.googleEventId, { etag: d.etag ?? '', status: d.status ?? null, recurringEventId: d.recurringEventId ?? null, data: (d.data ?? null) as Mirrored['data'] });
  }

  const changes: NewChange[] = [];
  const deleted = (googleEventId: string, prev: Mirrored) => {
    changes.push({ calendarId, googleEventId, type: 'deleted', etag: prev.etag, seenAt });
    state.delete(googleEventId);
  };
  for (const op of ops) {
    if ('updateOne' in op) {
      const id = String(op.updateOne.filter.googleEventId);
      const set = (op.updateOne.update as { $set: Record<string, unknown> }).$set;
      const data = set.data as Record<string, unknown>;
      const next: Mirrored = { etag: String(set.etag ?? ''), status: (set.status as string | null) ?? null, recurringEventId: (set.recurringEventId as string | null) ?? null, data };
      const prev = state.get(id);
      state.set(id, next);
      if (prev && prev.etag === next.etag) continue;
      if (!prev) changes.push({ calendarId, googleEventId: id, type: 'created', etag: next.etag, seenAt, event: data });
      else changes.push({ calendarId, googleEventId: id, type: 'updated', etag: next.etag, seenAt, event: data, changed: changedFields(prev.data, data) });
    } else if ('deleteOne' in op) {
      const id = String(op.deleteOne.filter.googleEventId);
      const prev = state.get(id);
      if (prev) deleted(id, prev);
    } else if ('deleteMany' in op) {
      const f = op.deleteMany.filter as Record<string, unknown>;
      const re = regexOf(f.googleEventId);
      for (const [id, prev] of [...state]) {
        const matches = (!re || re.test(id)) && (f.recurringEventId === undefined || f.recurringEventId === prev.recurringEventId) && (f.status === undefined || f.status === prev.status);
        if (matches) deleted(id, prev);
      }
    }
  }
  return changes;
}

interface Inserted {
  _id: Types.ObjectId;
  googleEventId: string;
  type: string;
  etag: string;
}

/** Inserts `changes` at the reserved positions; returns the records this call created. */
async function insertAt(Change: ChangeModel, changes: NewChange[], from: number): Promise<Inserted[]> {
  const docs = changes.map((c, i) => ({ ...c, seq: from + i }));
  try {
    return (await Change.insertMany(docs, { ordered: false })) as unknown as Inserted[];
  } catch (err) {
    // Duplicates (a replayed page) are expected and skipped; anything else is a real failure.
    const e = err as { code?: number; writeErrors?: Array<{ err?: { code?: number }; code?: number }>; insertedDocs?: Inserted[] };
    const errors = e.writeErrors ?? (e.code !== undefined ? [{ code: e.code }] : []);
    if (errors.length === 0 || errors.some((w) => (w.err?.code ?? w.code) !== 11000)) throw err;
    return e.insertedDocs ?? [];
  }
}

/** The records' block expired before the commit: move them to a fresh block, visible once committed. */
async function renumber(Change: ChangeModel, positions: FeedPositions, ids: Types.ObjectId[], now: Date): Promise<void> {
  const r = await positions.reserve(Math.max(1, ids.length), now);
  await Promise.all(ids.map((_id, i) => Change.updateOne({ _id }, { $set: { seq: r.from + i } })));
  if (!(await positions.commit(r))) await renumber(Change, positions, ids, now);
}

/**
 * The mirror write failed, maybe part-way (an ordered bulkWrite stops at a fenced event; a network
 * error may hide a write that applied). Keeps the records the mirror now agrees with and removes the
 * others, so the feed's last word on every event is what the mirror holds.
 */
async function keepApplied(Event: EventModel, Change: ChangeModel, calendarId: Types.ObjectId, inserted: Inserted[]): Promise<Inserted[]> {
  if (inserted.length === 0) return [];
  const ids = [...new Set(inserted.map((r) => r.googleEventId))];
  const mirror = new Map((await Event.find({ calendarId, googleEventId: { $in: ids } }, { googleEventId: 1, etag: 1 }).lean()).map((d) => [d.googleEventId, d.etag ?? '']));
  const applied = (r: Inserted) => (r.type === 'deleted' ? !mirror.has(r.googleEventId) : mirror.get(r.googleEventId) === r.etag);
  const refused = inserted.filter((r) => !applied(r));
  if (refused.length > 0) await Change.deleteMany({ _id: { $in: refused.map((r) => r._id) } });
  return inserted.filter(applied);
}

async function recordAround<T>(Event: EventModel, calendarId: Types.ObjectId, changes: NewChange[], now: Date, write: () => Promise<T>): Promise<T> {
  if (changes.length === 0) return write();
  const { Change, positions } = recorderFor(Event);
  await Change.init();
  const r: Reservation = await positions.reserve(changes.length, now);
  let inserted: Inserted[] = [];
  try {
    inserted = await insertAt(Change, changes, r.from);
    const result = await write();
    if (!(await positions.commit(r)) && inserted.length > 0) await renumber(Change, positions, inserted.map((d) => d._id), now);
    return result;
  } catch (err) {
    const kept = await keepApplied(Event, Change, calendarId, inserted);
    if (!(await positions.commit(r)) && kept.length > 0) await renumber(Change, positions, kept.map((d) => d._id), now);
    throw err;
  }
}

/** Records the changes a page's mirror writes make, then runs `write` (the bulkWrite). */
export async function recordPageChanges<T>(Event: EventModel, calendarId: Types.ObjectId, ops: MirrorOp[], now: Date, write: () => Promise<T>): Promise<T> {
  return recordAround(Event, calendarId, await pageChanges(Event, calendarId, ops, now), now, write);
}

/**
 * Records a deletion for every mirrored event `isAbsent` selects (reconcile-by-absence after a full
 * sync), then runs `remove`. The calendar's events are read by the index's first field only; the
 * selection happens here.
 */
export async function recordRemovalChanges<T>(
  Event: EventModel,
  calendarId: Types.ObjectId,
  isAbsent: (doc: { seenInFullSync: string | null; syncEpoch: number }) => boolean,
  now: Date,
  remove: () => Promise<T>,
): Promise<T> {
  const docs = await Event.find({ calendarId }, { googleEventId: 1, etag: 1, seenInFullSync: 1, syncEpoch: 1 }).lean();
  const changes: NewChange[] = docs
    .filter((d) => isAbsent({ seenInFullSync: d.seenInFullSync ?? null, syncEpoch: d.syncEpoch ?? 0 }))
    .map((d) => ({ calendarId, googleEventId: d.googleEventId, type: 'deleted', etag: d.etag ?? '', seenAt: now }));
  return recordAround(Event, calendarId, changes, now, remove);
}
