import { Schema, type Connection, type InferSchemaType } from 'mongoose';

/**
 * The change log: one document per mirror change (src/changes/change-recorder.ts writes them with
 * each page). `seq` is the feed position; it is assigned in blocks by src/changes/positions.ts so
 * that readers never pass a position whose records are still being written.
 */
const changeSchema = new Schema(
  {
    seq: { type: Number, required: true },
    calendarId: { type: Schema.Types.ObjectId, required: true },
    googleEventId: { type: String, required: true },
    type: { type: String, enum: ['created', 'updated', 'deleted'], required: true },
    /** The event's etag after the change (the last mirrored etag for a deletion); '' when Google sent none. */
    etag: { type: String, required: true },
    /** When calsync saw the change; the retention TTL index runs on it (src/changes/retention.ts). */
    seenAt: { type: Date, required: true },
    /** The event as mirrored (created/updated). */
    event: { type: Schema.Types.Mixed, default: undefined },
    /** updated: the watched fields that differ, `{field: {before, after}}`. */
    changed: { type: Schema.Types.Mixed, default: undefined },
  },
  { collection: 'changes', minimize: false, versionKey: false },
);

changeSchema.index({ seq: 1 }, { unique: true });
// The pull API's calendar filter: equality then range, both on the index.
changeSchema.index({ calendarId: 1, seq: 1 });
// A page replayed after a crash appends nothing new: the same change is the same document.
changeSchema.index({ calendarId: 1, googleEventId: 1, etag: 1, type: 1 }, { unique: true });

export type ChangeRecord = InferSchemaType<typeof changeSchema>;
const build = (conn: Connection) => conn.model('Change', changeSchema);
export type ChangeModel = ReturnType<typeof build>;

export function changeModel(conn: Connection): ChangeModel {
  return (conn.models.Change as ChangeModel | undefined) ?? build(conn);
}

/** The one document that hands out feed positions (see positions.ts). */
const positionSchema = new Schema(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true, default: 0 },
    /** Blocks handed out and not yet committed: token → {from, until}. */
    pending: { type: Schema.Types.Mixed, default: () => ({}) },
  },
  { collection: 'change_positions', minimize: false, versionKey: false },
);
const buildPositions = (conn: Connection) => conn.model('ChangePosition', positionSchema);
export type ChangePositionModel = ReturnType<typeof buildPositions>;

export function changePositionModel(conn: Connection): ChangePositionModel {
  return (conn.models.ChangePosition as ChangePositionModel | undefined) ?? buildPositions(conn);
}
