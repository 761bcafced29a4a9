import { Schema, type Connection, type Model, type InferSchemaType } from 'mongoose';

/**
 * One document per finished sync pass. Rates over the last hour (token expirations, fallbacks,
 * errors, slow syncs) are computed from these, so every replica sees the same fleet-wide alerts.
 * A TTL index keeps the collection to a week.
 */
const syncRunSchema = new Schema(
  {
    calendarId: { type: Schema.Types.ObjectId, required: true },
    mode: { type: String, enum: ['incremental', 'full'], required: true },
    outcome: { type: String, enum: ['ok', 'failed', 'needs_attention'], required: true },
    /** Set when an incremental sync had to fall back to a full one. */
    fallbackReason: { type: String, default: null },
    tokenExpired: { type: Boolean, default: false },
    durationMs: { type: Number, required: true },
    apiCalls: { type: Number, default: 0 },
    /** What a full re-list would have cost for this pass (pages of 250): the dashboard's baseline. */
    fullPollCalls: { type: Number, default: 0 },
    eventsChanged: { type: Number, default: 0 },
    errorCode: { type: String, default: null },
    /** The most urgent request class the pass covered (src/sync/priority.ts: 0 is a ping). */
    priority: { type: Number, default: null },
    /** From the earliest covered request becoming due to the end of the pass: request → mirror freshness. */
    freshnessMs: { type: Number, default: null },
    finishedAt: { type: Date, required: true },
    /** Counted in its chart bucket when recorded (sync-buckets.ts); runs without it are backfilled once. */
    bucketed: { type: Boolean },
  },
  { collection: 'sync_runs', versionKey: false },
);

syncRunSchema.index({ finishedAt: 1 }, { expireAfterSeconds: 7 * 24 * 3600 });
// The dashboard's per-calendar page: the latest runs of one calendar.
syncRunSchema.index({ calendarId: 1, finishedAt: -1 });

export type SyncRunRecord = InferSchemaType<typeof syncRunSchema>;
export type SyncRunModel = Model<SyncRunRecord>;

export function syncRunModel(conn: Connection): SyncRunModel {
  return (conn.models.SyncRun as SyncRunModel | undefined) ?? (conn.model('SyncRun', syncRunSchema) as unknown as SyncRunModel);
}
