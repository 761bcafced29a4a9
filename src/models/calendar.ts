import { IDLE_PRIORITY, NEVER } from '../sync/priority.js';
import { reserveListPositions } from './list-position.js';
import { Schema, type Connection, type InferSchemaType, type HydratedDocument } from 'mongoose';

/**
 * Named sync states; changed only through the sync engine's transitions, and `retired`: a
 * discovered calendar that left its account's calendar list, kept by policy (mirror kept, no
 * channel, no syncs until it is discovered again).
 */
export const SYNC_STATES = ['idle', 'syncing', 'failed', 'needs_attention', 'retired'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/** How changes reach us: push channel pings, or cron polling when Google refused a watch. */
export const DELIVERY_MODES = ['push', 'polling'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

const counters = new Schema(
  {
    incremental: { type: Number, default: 0 },
    full: { type: Number, default: 0 },
    fallback: { type: Number, default: 0 },
    failed: { type: Number, default: 0 },
    apiCalls: { type: Number, default: 0 },
    eventsChanged: { type: Number, default: 0 },
  },
  { _id: false },
);

const calendarSchema = new Schema(
  {
    accountId: { type: Schema.Types.ObjectId, required: true, index: true },
    googleCalendarId: { type: String, required: true },
    /** Per-calendar switch; null inherits INCREMENTAL_SYNC_ENABLED. false forces every sync to be full. */
    incrementalEnabled: { type: Boolean, default: null },
    /** Registered by calendar discovery (src/discovery/), which may also retire it; false: by an operator. */
    discovered: { type: Boolean, default: false },
    retiredAt: { type: Date, default: null },

    // Sync token: secret, never selected by default, never returned by the API.
    syncToken: { type: String, default: null, select: false },
    /** Bumped on every token write; the compare-and-set key that stops an older sync overwriting a newer token. */
    syncTokenVersion: { type: Number, default: 0 },
    /** singleEvents used by the query that produced the token; incremental calls must repeat it. */
    syncTokenSingleEvents: { type: Boolean, default: null },

    state: { type: String, enum: SYNC_STATES, default: 'idle' },
    mode: { type: String, enum: DELIVERY_MODES, default: 'push' },
    modeReason: { type: String, default: null },
    // Sync scheduling (src/sync/sync-state.ts owns every write to these).
    /** When the earliest pending request became due; NEVER when nothing is requested. */
    dueAt: { type: Date, default: () => NEVER },
    /** The most urgent pending request's class (src/sync/priority.ts); IDLE_PRIORITY when none. */
    priority: { type: Number, default: IDLE_PRIORITY },
    /** Requests so far, and full-sync requests so far: a pass compares them to spot requests made during it. */
    requests: { type: Number, default: 0 },
    fullRequests: { type: Number, default: 0 },
    pendingFullSync: { type: Boolean, default: false },
    /** The sync lease (src/leases/lease.ts): claimable when syncNotBefore ≤ now (lease expiry, pacing, retry back-off). */
    syncNotBefore: { type: Date, default: () => new Date(0) },
    syncHeldBy: { type: String, default: null },
    syncEpoch: { type: Number, default: 0 },
    consecutiveFailures: { type: Number, default: 0 },
    // Channel work (open / renew / retire the watch channel; src/channels/channel-schedule.ts owns every write).
    /** The channel lease (src/leases/lease.ts): the channel needs a look when ≤ now; NEVER for polled calendars. */
    channelCheckAt: { type: Date, default: () => new Date(0) },
    channelHeldBy: { type: String, default: null },
    channelEpoch: { type: Number, default: 0 },
    /** Channel work failures in a row (the back-off before the next attempt grows with it). */
    channelFailures: { type: Number, default: 0 },

    lastError: {
      type: new Schema({ code: String, message: String, at: Date }, { _id: false }),
      default: null,
    },
    lastSyncedAt: { type: Date, default: null },
    lastFullSyncAt: { type: Date, default: null },
    lastSyncDurationMs: { type: Number, default: null },
    syncStartedAt: { type: Date, default: null },
    eventCount: { type: Number, default: 0 },
    counters: { type: counters, default: () => ({}) },
    /** Position in the admin and dashboard lists (src/models/list-position.ts), given when stored. */
    listSeq: { type: Number, default: null },
  },
  { timestamps: true, collection: 'calendars' },
);

calendarSchema.index({ accountId: 1, googleCalendarId: 1 }, { unique: true });
// The safety net (src/cron/safety-net.ts): calendars without a request, by mode and state, not synced
// since. (It replaces {state, lastSyncedAt}, which the safety net's reads could not stay on.)
calendarSchema.index({ mode: 1, priority: 1, state: 1, lastSyncedAt: 1 });
// The claim: due calendars by priority, then by how long they have waited.
calendarSchema.index({ priority: 1, dueAt: 1 });
calendarSchema.index({ state: 1, syncNotBefore: 1 });
// Admin and dashboard lists: one page of one state, in registration order.
calendarSchema.index({ state: 1, _id: 1 });
// Admin and dashboard lists: a bounded window of list positions, of all calendars or of one state.
calendarSchema.index({ listSeq: 1 });
calendarSchema.index({ state: 1, listSeq: 1 });
// Every calendar stored through the model gets its list position (create/save and insertMany).
calendarSchema.pre('save', async function () {
  if (this.isNew && this.listSeq == null) this.listSeq = await reserveListPositions(this.db, 1);
});
calendarSchema.pre('insertMany', async function (this: { db: Connection }, docs: unknown) {
  const unnumbered = (Array.isArray(docs) ? docs : [docs]).filter((d): d is { listSeq?: number | null } => typeof d === 'object' && d !== null && (d as { listSeq?: unknown }).listSeq == null);
  if (unnumbered.length === 0) return;
  const first = await reserveListPositions(this.db, unnumbered.length);
  unnumbered.forEach((d, i) => (d.listSeq = first + i));
});
// The channel claim: a range on the first field, sorted in its order.
calendarSchema.index({ channelCheckAt: 1 });

export type CalendarRecord = InferSchemaType<typeof calendarSchema>;
export type CalendarDoc = HydratedDocument<CalendarRecord>;
const build = (conn: Connection) => conn.model('Calendar', calendarSchema);
export type CalendarModel = ReturnType<typeof build>;

export function calendarModel(conn: Connection): CalendarModel {
  return (conn.models.Calendar as CalendarModel | undefined) ?? build(conn);
}
