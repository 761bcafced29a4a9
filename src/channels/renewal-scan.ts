import type { CalendarModel } from '../models/calendar.js';
import type { ChannelModel } from './channel-model.js';

/**
 * Pending channels older than the grace period never got their watch confirmed. If a verified ping
 * told us their resource id they may be live at Google: superseded, so they get stopped. Otherwise
 * there is nothing we could stop: recorded as stopped. Returns how many were settled.
 */
export async function settleStalePending(Channel: ChannelModel, now: number, graceMs: number): Promise<number> {
  const before = new Date(now - graceMs);
  const known = await Channel.updateMany(
    { status: 'pending', createdAt: { $lt: before }, resourceId: { $ne: null } },
    { $set: { status: 'superseded', supersededAt: new Date(now), endReason: 'watch never confirmed' } },
  );
  const unknown = await Channel.updateMany(
    { status: 'pending', createdAt: { $lt: before }, resourceId: null },
    { $set: { status: 'stopped', stoppedAt: new Date(now), endReason: 'watch never confirmed' } },
  );
  return known.modifiedCount + unknown.modifiedCount;
}

/**
 * Calendars needing channel work: an active channel due for renewal, a push calendar without a live
 * channel (lost or never opened), or live channels whose calendar no longer exists.
 */
export async function renewalCandidates(Channel: ChannelModel, Calendar: CalendarModel, now: number, renewLeadSeconds: number): Promise<string[]> {
  const dueBefore = new Date(now + renewLeadSeconds * 1000);
  const due = await Channel.find({ status: 'active', expiration: { $lt: dueBefore } }).distinct('calendarId');
  const live = new Set((await Channel.find({ status: { $in: ['active', 'pending'] } }).distinct('calendarId')).map(String));
  const push = await Calendar.find({ mode: 'push' }).select({ _id: 1 }).lean();
  const existing = new Set((await Calendar.find({ _id: { $in: [...live] } }).distinct('_id')).map(String));
  const ids = new Set<string>(due.map(String));
  for (const c of push) if (!live.has(String(c._id))) ids.add(String(c._id));
  for (const id of live) if (!existing.has(id)) ids.add(id);
  return [...ids];
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}
