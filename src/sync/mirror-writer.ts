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
}

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
    const key = { calendarId, googleEventId: ev.id };
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
    };
    if (opts.fullSyncRunId) set.seenInFullSync = opts.fullSyncRunId;
    ops.push({ updateOne: { filter: key, update: { $set: set }, upsert: true } });
    upserted++;
  }
  // Ordered, so that if a page ever named an event twice the later entry wins, as at Google.
  if (ops.length > 0) await Event.bulkWrite(ops, { ordered: true });
  return { upserted, removed };
}

/**
 * The end of a full sync: every mirrored event of the calendar the run did not return is gone at
 * Google (or outside the window). Same result as Google's "wipe and refill" advice, without the
 * moment in which the mirror is empty.
 */
export async function removeAbsent(Event: EventModel, calendarId: Types.ObjectId, fullSyncRunId: string): Promise<number> {
  const res = await Event.deleteMany({ calendarId, seenInFullSync: { $ne: fullSyncRunId } });
  return res.deletedCount ?? 0;
}
