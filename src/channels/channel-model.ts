import { NEVER } from '../sync/priority.js';
import { Schema, type Connection, type InferSchemaType, type HydratedDocument } from 'mongoose';

/**
 * Channel lifecycle (every channel ever opened is recorded until it is stopped, so none is orphaned):
 *   pending    saved before `events.watch` is called; a `sync` ping may arrive before watch returns
 *   active     watch confirmed; the calendar's current channel (at most one once renewal settles)
 *   superseded replaced (or its calendar removed); still delivering until `channels.stop` succeeds
 *   stopped    stopped at Google, refused by Google, or never confirmed
 */
export const CHANNEL_STATUSES = ['pending', 'active', 'superseded', 'stopped'] as const;
export type ChannelStatus = (typeof CHANNEL_STATUSES)[number];

/** What a channel watches: a calendar's events, or an account's calendar list (discovery). */
export const CHANNEL_KINDS = ['events', 'calendarList'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

function watchesEvents(this: { kind?: string }): boolean {
  return this.kind !== 'calendarList';
}

const channelSchema = new Schema(
  {
    /** The channel id we gave Google (a UUID); pings carry it in X-Goog-Channel-ID. */
    _id: { type: String, required: true },
    kind: { type: String, enum: CHANNEL_KINDS, default: 'events' },
    /** The calendar of an events channel; null on a calendarList channel (which belongs to `accountId`). */
    calendarId: { type: Schema.Types.ObjectId, required: watchesEvents, default: null },
    /** Kept so a channel can still be stopped after its calendar was removed. */
    accountId: { type: Schema.Types.ObjectId, required: true },
    googleCalendarId: { type: String, required: watchesEvents, default: null },
    /** SHA-256 (hex) of the per-channel token; the token itself is never stored. */
    tokenHash: { type: String, required: true, select: false },
    resourceId: { type: String, default: null },
    resourceUri: { type: String, default: null },
    expiration: { type: Date, default: null },
    status: { type: String, enum: CHANNEL_STATUSES, required: true, default: 'pending' },
    /** Highest X-Goog-Message-Number seen; only ever raised (compare-and-set), so replays cause nothing. */
    lastMessageNumber: { type: Number, default: 0 },
    lastPingAt: { type: Date, default: null },
    activatedAt: { type: Date, default: null },
    supersededAt: { type: Date, default: null },
    supersededBy: { type: String, default: null },
    stoppedAt: { type: Date, default: null },
    /** Why the channel ended up stopped without a successful channels.stop (refused, never confirmed…). */
    endReason: { type: String, default: null },
    watchError: { type: String, default: null },
    stopAttempts: { type: Number, default: 0 },
    lastStopError: { type: String, default: null },
    /**
     * The stop lease (src/leases/lease.ts), so two stoppers never both call channels.stop for one
     * channel: claimable when ≤ now. Set to now when the channel is superseded, NEVER otherwise,
     * so the claim's index range holds only channels waiting for a stop.
     */
    stopNotBefore: { type: Date, default: () => NEVER },
    stopHeldBy: { type: String, default: null },
    stopEpoch: { type: Number, default: 0 },
  },
  { timestamps: true, collection: 'channels' },
);

channelSchema.index({ calendarId: 1, status: 1 });
channelSchema.index({ status: 1, expiration: 1 });
channelSchema.index({ stopNotBefore: 1 });
// An account's calendarList channels (discovery).
channelSchema.index({ accountId: 1, kind: 1, status: 1 });

export type ChannelRecord = InferSchemaType<typeof channelSchema>;
export type ChannelDoc = HydratedDocument<ChannelRecord>;
const build = (conn: Connection) => conn.model('Channel', channelSchema);
export type ChannelModel = ReturnType<typeof build>;

export function channelModel(conn: Connection): ChannelModel {
  return (conn.models.Channel as ChannelModel | undefined) ?? build(conn);
}

/** The fields that retire a live channel: superseded, and due for a stop at once. */
export function supersededFields(now: Date, endReason: string): Record<string, unknown> {
  return { status: 'superseded', supersededAt: now, endReason, stopNotBefore: now, stopHeldBy: null };
}
