import type { calendar_v3 } from 'googleapis';
import type { Types } from 'mongoose';
import type { EventModel } from '../models/event.js';
import { recordPageChanges, recordRemovalChanges } from '../changes/change-recorder.js';

/**
 * Writes Google pages into the mirror. Every write is keyed on (calendar, Google event id), so
 * replaying a page (after a crash, or a sync that restarted from an older token) converges to the
 * same state.
 */

export interface StorePageOptions {
  /** Set during a full sync: stamps every event so reconcile-by-absence can find the ones not seen. */
  fullSyncRunId?: string;
  now: Date;
  /**
   * The writer's sync-lease epoch. Each event remembers the epoch that last wrote it and a write
   * from an older epoch does not apply: a holder that stalled past its lease cannot put older data
   * over what the newer holder stored (the upsert then hits the unique key and the page fails as
   * fenced).
   */
  epoch: number;
}

export class FencedWriteError extends Error {
  constructor() {
    super('a newer sync lease already wrote these events');
    this.name = 'FencedWriteError';
  }
}

/**
 * Matches events last written by this epoch or an older one. A plain range on the last field of the
 * {calendarId, googleEventId, syncEpoch} index, so the upsert stays an index lookup on planners that
 * would scan for anything fancier (SecantusDB does, 50× slower, for `$not` or `$or`).
 */
const writableBy = (epoch: number) => ({ syncEpoch: { $lt: epoch + 1 } });

export interface StorePageResult {
  upserted: number;
  removed: number;
}

const toDate = (v: string | null | undefined): Date | null => {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
};

interface SeriesInPage {
  /** Series (with `recurrence`) live in the mirror or in this page. */
  live: Set<string>;
  /** Series in the mirror that this page deletes. */
  deleted: Set<string>;
}

/**
 * Only singleEvents=false listings hold series, so in the default mode both sets are empty and
 * nothing below changes. One indexed lookup, and only for pages that carry deletions.
 */
async function seriesInPage(Event: EventModel, calendarId: Types.ObjectId, items: calendar_v3.Schema$Event[]): Promise<SeriesInPage> {
  const live = new Set(items.filter((ev) => ev.id && ev.status !== 'cancelled' && ev.recurrence?.length).map((ev) => ev.id!));
  const deleted = new Set<string>();
  const cancelled = items.filter((ev) => ev.id && ev.status === 'cancelled');
  const ids = [...new Set(cancelled.map((ev) => ev.recurringEventId ?? ev.id!))];
  if (ids.length === 0) return { live, deleted };
  // Only the index's fields in the filter (anything more makes SecantusDB scan the collection);
  // the rest is checked here.
  const docs = await Event.find({ calendarId, googleEventId: { $in: ids } }, { googleEventId: 1, status: 1, 'data.recurrence': 1 }).lean<
    Array<{ googleEventId: string; status: string | null; data?: { recurrence?: unknown[] } }>
  >();
  for (const d of docs) if (d.status !== 'cancelled' && (d.data?.recurrence?.length ?? 0) > 0) live.add(d.googleEventId);
  for (const ev of cancelled) {
    if (!ev.recurringEventId && live.delete(ev.id!)) deleted.add(ev.id!);
  }
  return { live, deleted };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function storePage(
  Event: EventModel,
  calendarId: Types.ObjectId,
  items: calendar_v3.Schema$Event[],
  opts: StorePageOptions,
): Promise<StorePageResult> {
  const ops: Parameters<EventModel['bulkWrite']>[0] = [];
  let upserted = 0;
  let removed = 0;
  const series = await seriesInPage(Event, calendarId, items);
  for (const ev of items) {
    if (!ev.id) continue;
    const key = { calendarId, googleEventId: ev.id, ...writableBy(opts.epoch) };
    // A cancelled occurrence of a live series (singleEvents=false): Google lists it in full and
    // incremental syncs alike and says to keep it "for the lifetime of the parent recurring
    // event", so it is mirrored like any event (status "cancelled"). When the series itself is
    // deleted, its cancelled occurrences go with it, whichever page brings which.
    const keepCancelled = ev.status === 'cancelled' && !!ev.recurringEventId && series.live.has(ev.recurringEventId);
    if (series.deleted.has(ev.id)) {
      // Instance ids are "<series id>_<start>", so the unique index serves this prefix.
      const occurrences = { calendarId, googleEventId: { $regex: `^${escapeRegExp(ev.id)}_` }, recurringEventId: ev.id, status: 'cancelled' };
      ops.push({ deleteMany: { filter: occurrences } });
    }
    if (ev.status === 'cancelled' && !keepCancelled) {
      // Deleted at Google (or a cancelled instance): gone from the mirror. Idempotent if absent.
      ops.push({ deleteOne: { filter: key } });
      removed++;
      continue;
    }
    const set: Record<string, unknown> = {
      etag: ev.etag ?? null,
      status: ev.status ?? null,
      updated: toDate(ev.updated),
      summary: ev.summary ?? null,
      start: ev.start ?? null,
      end: ev.end ?? null,
      recurringEventId: ev.recurringEventId ?? null,
      data: ev,
      syncedAt: opts.now,
      syncEpoch: opts.epoch,
    };
    if (opts.fullSyncRunId) set.seenInFullSync = opts.fullSyncRunId;
    ops.push({ updateOne: { filter: key, update: { $set: set }, upsert: true } });
    upserted++;
  }
  // Ordered, so that if a page ever named an event twice the later entry wins, as at Google.
  if (ops.length > 0) {
    try {
      // The change log is written with the page (an outbox: src/changes/change-recorder.ts).
      await recordPageChanges(Event, calendarId, ops, opts.now, () => Event.bulkWrite(ops, { ordered: true }));
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) throw new FencedWriteError();
      throw err;
    }
  }
  return { upserted, removed };
}

/**
 * The end of a full sync: every mirrored event of the calendar the run did not return is gone at
 * Google (or outside the window). Same result as Google's "wipe and refill" advice, without the
 * moment in which the mirror is empty.
 */
export async function removeAbsent(Event: EventModel, calendarId: Types.ObjectId, fullSyncRunId: string, epoch: number): Promise<number> {
  const filter = { calendarId, seenInFullSync: { $ne: fullSyncRunId }, ...writableBy(epoch) };
  // Each removal is recorded in the change log first (src/changes/change-recorder.ts).
  const isAbsent = (d: { seenInFullSync: string | null; syncEpoch: number }) => d.seenInFullSync !== fullSyncRunId && d.syncEpoch < epoch + 1;
  const res = await recordRemovalChanges(Event, calendarId, isAbsent, new Date(), () => Event.deleteMany(filter));
  return res.deletedCount ?? 0;
}
