import { Schema, type Connection, type InferSchemaType } from 'mongoose';

/**
 * The mirror: one document per (calendar, Google event id). Writes are idempotent upserts on that
 * key, so replaying a page after a crash converges to the same state.
 */
const eventSchema = new Schema(
  {
    calendarId: { type: Schema.Types.ObjectId, required: true },
    googleEventId: { type: String, required: true },
    etag: { type: String, default: null },
    status: { type: String, default: null },
    updated: { type: Date, default: null },
    summary: { type: String, default: null },
    start: { type: Schema.Types.Mixed, default: null },
    end: { type: Schema.Types.Mixed, default: null },
    recurringEventId: { type: String, default: null },
    /** Full Google resource as last received, so consumers need no second fetch. */
    data: { type: Schema.Types.Mixed, required: true },
    /** Full-sync run that last saw this event; reconcile-by-absence removes events with an older stamp. */
    seenInFullSync: { type: String, default: null },
    syncedAt: { type: Date, required: true },
    /** Sync-lease epoch of the pass that last wrote this event (fences stalled former holders). */
    syncEpoch: { type: Number, default: 0 },
  },
  { collection: 'events', minimize: false },
);

eventSchema.index({ calendarId: 1, googleEventId: 1 }, { unique: true });
// Serves the fenced upsert (src/sync/mirror-writer.ts): the key plus a range on the writer's epoch.
eventSchema.index({ calendarId: 1, googleEventId: 1, syncEpoch: 1 });
eventSchema.index({ calendarId: 1, seenInFullSync: 1 });

export type EventRecord = InferSchemaType<typeof eventSchema>;
const build = (conn: Connection) => conn.model('Event', eventSchema);
export type EventModel = ReturnType<typeof build>;

export function eventModel(conn: Connection): EventModel {
  return (conn.models.Event as EventModel | undefined) ?? build(conn);
}
