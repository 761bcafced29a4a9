import type { AnyBulkWriteOperation, Connection } from 'mongoose';
import type { Models } from '../models/index.js';
import { NEVER } from '../sync/priority.js';
import { channelModel } from './channel-model.js';
import { ChannelSchedule } from './channel-schedule.js';

const MARKER = 'channel-schedule-v1';
const BATCH = 500;

/**
 * Gives documents written before channel scheduling their due times, once per database:
 * a push calendar's channel work is due when its active channel enters the renewal lead (now if it
 * has none), a polled calendar's never; a superseded channel's stop is due now, any other channel's
 * never. Idempotent (only documents without the new fields are touched); a marker document makes
 * later boots skip it. The old `channel_claims` collection is left alone for replicas still running
 * the previous version during a rolling deploy.
 */
export async function migrateChannelSchedule(conn: Connection, models: Models, renewLeadSeconds: number, now: Date = new Date()): Promise<boolean> {
  const meta = conn.collection<{ _id: string; at: Date }>('calsync_migrations');
  if (await meta.findOne({ _id: MARKER })) return false;
  const Calendar = models.Calendar.collection;
  const legacy = { channelCheckAt: { $exists: false } };
  const fresh = { channelHeldBy: null, channelEpoch: 0, channelFailures: 0 };
  await Calendar.updateMany({ ...legacy, mode: 'polling' }, { $set: { ...fresh, channelCheckAt: NEVER } });
  // Marked with `now` first; those with an active channel are then moved to its renewal time.
  await Calendar.updateMany(legacy, { $set: { ...fresh, channelCheckAt: now } });
  const schedule = new ChannelSchedule(models.Calendar, { owner: 'migration', leaseMs: 0, renewLeadSeconds });
  const Channel = channelModel(conn);
  const active = Channel.find({ status: 'active' }).select({ calendarId: 1, expiration: 1 }).lean().cursor({ batchSize: BATCH });
  let ops: AnyBulkWriteOperation[] = [];
  for await (const ch of active) {
    // Only a calendar still at the migration's mark. With two active channels (a renewal cut short)
    // the first one seen sets the time; an early look just settles them.
    ops.push({
      updateOne: {
        filter: { _id: ch.calendarId, channelCheckAt: { $lte: now }, channelHeldBy: null, mode: 'push' },
        update: { $set: { channelCheckAt: schedule.renewAt(ch.expiration ?? null, now) } },
      },
    });
    if (ops.length >= BATCH) {
      await Calendar.bulkWrite(ops as never, { ordered: false });
      ops = [];
    }
  }
  if (ops.length > 0) await Calendar.bulkWrite(ops as never, { ordered: false });
  await Channel.collection.updateMany(
    { status: 'superseded', stopNotBefore: { $exists: false } },
    { $set: { stopNotBefore: now, stopHeldBy: null, stopEpoch: 0 }, $unset: { stopClaimUntil: '' } },
  );
  await Channel.collection.updateMany(
    { stopNotBefore: { $exists: false } },
    { $set: { stopNotBefore: NEVER, stopHeldBy: null, stopEpoch: 0 }, $unset: { stopClaimUntil: '' } },
  );
  await meta.updateOne({ _id: MARKER }, { $set: { at: now } }, { upsert: true });
  return true;
}
