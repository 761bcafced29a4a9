import type { Connection } from 'mongoose';
import type { Models } from '../models/index.js';
import { IDLE_PRIORITY, NEVER, PRIORITY } from './priority.js';

const MARKER = 'sync-state-v2';

/**
 * Brings documents written before durable scheduling up to date, once per database: calendars get
 * the scheduling fields (a calendar the old engine had marked dirty, or owed a full sync, is
 * recorded as requested), and events get the epoch the fenced writes compare. Idempotent; a marker
 * document makes later boots skip it. Old replicas ignore the new fields, so a rolling deploy can
 * run both versions for a while.
 */
export async function migrateSyncState(conn: Connection, models: Models, now: Date = new Date()): Promise<boolean> {
  const meta = conn.collection<{ _id: string; at: Date }>('calsync_migrations');
  if (await meta.findOne({ _id: MARKER })) return false;
  const fresh = { syncNotBefore: new Date(0), syncHeldBy: null, syncEpoch: 0, fullRequests: 0, consecutiveFailures: 0 };
  const legacy = { priority: { $exists: false } };
  await models.Calendar.collection.updateMany(
    { ...legacy, $or: [{ dirty: true }, { pendingFullSync: true }, { state: 'syncing' }] },
    { $set: { ...fresh, priority: PRIORITY.recovery, dueAt: now, requests: 1 }, $unset: { lease: '', dirty: '' } },
  );
  await models.Calendar.collection.updateMany(legacy, { $set: { ...fresh, priority: IDLE_PRIORITY, dueAt: NEVER, requests: 0 }, $unset: { lease: '', dirty: '' } });
  await models.Event.collection.updateMany({ syncEpoch: { $exists: false } }, { $set: { syncEpoch: 0 } });
  await meta.updateOne({ _id: MARKER }, { $set: { at: now } }, { upsert: true });
  return true;
}
