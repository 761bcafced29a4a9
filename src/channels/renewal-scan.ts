import { supersededFields, type ChannelModel } from './channel-model.js';

/**
 * Pending channels older than the grace period never got their watch confirmed. If a verified ping
 * told us their resource id they may be live at Google: superseded, so they get stopped. Otherwise
 * there is nothing we could stop: recorded as stopped. Returns how many were settled.
 */
export async function settleStalePending(Channel: ChannelModel, now: number, graceMs: number): Promise<number> {
  const before = new Date(now - graceMs);
  const known = await Channel.updateMany(
    { status: 'pending', createdAt: { $lt: before }, resourceId: { $ne: null } },
    { $set: supersededFields(new Date(now), 'watch never confirmed') },
  );
  const unknown = await Channel.updateMany(
    { status: 'pending', createdAt: { $lt: before }, resourceId: null },
    { $set: { status: 'stopped', stoppedAt: new Date(now), endReason: 'watch never confirmed' } },
  );
  return known.modifiedCount + unknown.modifiedCount;
}
