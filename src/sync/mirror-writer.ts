import type { calendar_v3 } from 'googleapis';
import type { Types } from 'mongoose';
import type { EventModel } from '../models/event.js';

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

export async function storePage(
  Event: EventModel,
  calendarId: Types.ObjectId,
  items: calendar_v3.Schema$Event[],
  opts: StorePageOptions,
): Promise<StorePageResult> {
  const ops: Parameters<EventModel['bulkWrite']>[0] = [];
  let upserted = 0;
  let removed = 0;
  for (const ev of items) {
    if (!ev.id) continue;
    const key = { calendarId, googleEventId: ev.id, ...writableBy(opts.epoch) };
    if (ev.status === 'cancelled') {
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
      await Event.bulkWrite(ops, { ordered: true });
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
  const res = await Event.deleteMany({ calendarId, seenInFullSync: { $ne: fullSyncRunId }, ...writableBy(epoch) });
  return res.deletedCount ?? 0;
}
