import type { Types } from 'mongoose';
import type { ChannelModel } from './channel-model.js';

export type LiveChannel =
  | { kind: 'current'; channelId: string; expiration: Date | null }
  | { kind: 'awaiting'; channelId: string; confirmBy: Date }
  | { kind: 'none' };

/**
 * What the live channels of one watched resource (a calendar's events, an account's calendar list)
 * call for: an active one not yet inside the renewal lead is current; else a watch still awaiting
 * its answer (younger than the grace period) may be live at Google, so it is waited for rather than
 * a second one opened; else a new channel is due.
 */
export async function liveChannel(
  Channel: ChannelModel,
  filter: { calendarId: Types.ObjectId } | { accountId: Types.ObjectId; kind: 'calendarList' },
  opts: { now: number; renewLeadSeconds: number; pendingGraceMs: number },
): Promise<LiveChannel> {
  const live = await Channel.find({ ...filter, status: { $in: ['active', 'pending'] } })
    .sort({ createdAt: -1, _id: -1 })
    .select({ status: 1, expiration: 1, createdAt: 1 })
    .lean();
  const renewAfter = opts.now + opts.renewLeadSeconds * 1000;
  const current = live.find((c) => c.status === 'active' && (!c.expiration || c.expiration.getTime() > renewAfter));
  if (current) return { kind: 'current', channelId: current._id, expiration: current.expiration ?? null };
  const awaiting = live.find((c) => c.status === 'pending' && c.createdAt.getTime() >= opts.now - opts.pendingGraceMs);
  if (awaiting) return { kind: 'awaiting', channelId: awaiting._id, confirmBy: new Date(awaiting.createdAt.getTime() + opts.pendingGraceMs) };
  return { kind: 'none' };
}
