import type { Connection } from 'mongoose';
import { channelModel, type ChannelModel } from '../channels/channel-model.js';
import { matchesHash } from '../crypto/hash.js';
import type { Ping, RejectionReason } from './ping.js';

export interface VerifiedChannel {
  channelId: string;
  /** What the channel watches: a calendar's events, or its account's calendar list. */
  kind: 'events' | 'calendarList';
  /** The calendar of an events channel ('' for a calendarList channel). */
  calendarId: string;
  accountId: string;
  /** False while the watch call has not returned: the ping then tells us the resource id. */
  resourceIdKnown: boolean;
  /** When the channel last delivered a verified ping, as read. */
  lastPingAt: Date | null;
}

/** How fresh `lastPingAt` is kept when a ping's number was already seen. */
const LAST_PING_RESOLUTION_MS = 1_000;

export type Verdict = { ok: true; channel: VerifiedChannel } | { ok: false; reason: RejectionReason };

/**
 * Decides whether a ping comes from one of our channels, before anything acts on it:
 *   known channel → token matches its stored hash (constant time) → not stopped → resource id
 *   matches → not expired.
 * The token is checked right after existence, so only a holder of the channel's secret learns
 * anything about the channel's state (and the HTTP answer is uniform anyway).
 *
 * Pending channels (watch not returned yet) are accepted: Google's first `sync` ping can beat the
 * watch response, and we do not know their resource id yet. Superseded channels are accepted too:
 * during a renewal's overlap they are still ours and still delivering.
 */
export class PingVerifier {
  private readonly Channel: ChannelModel;

  constructor(
    conn: Connection,
    private readonly now: () => number = Date.now,
  ) {
    this.Channel = channelModel(conn);
  }

  async verify(ping: Ping): Promise<Verdict> {
    const channel = await this.Channel.findById(ping.channelId)
      .select({ tokenHash: 1, status: 1, resourceId: 1, expiration: 1, calendarId: 1, accountId: 1, kind: 1, lastPingAt: 1 })
      .lean();
    if (!channel) return { ok: false, reason: 'unknown_channel' };
    if (ping.token === null || !matchesHash(ping.token, channel.tokenHash)) return { ok: false, reason: 'token_mismatch' };
    if (channel.status === 'stopped') return { ok: false, reason: 'channel_stopped' };
    if (channel.resourceId && channel.resourceId !== ping.resourceId) return { ok: false, reason: 'resource_mismatch' };
    if (channel.expiration && channel.expiration.getTime() <= this.now()) return { ok: false, reason: 'channel_expired' };
    return {
      ok: true,
      channel: {
        channelId: channel._id,
        kind: channel.kind === 'calendarList' ? 'calendarList' : 'events',
        calendarId: channel.calendarId?.toHexString() ?? '',
        accountId: channel.accountId.toHexString(),
        resourceIdKnown: Boolean(channel.resourceId),
        lastPingAt: channel.lastPingAt ?? null,
      },
    };
  }

  /**
   * Raises the channel's highest message number to `n` if `n` is higher: one atomic conditional
   * update, so of two concurrent deliveries of the same number exactly one counts. False means the
   * number was already seen (a retry, an out-of-order older ping, or a number pinned high by a
   * token holder): accounting only, the caller still acts on a change (see PingReceiver).
   */
  async recordMessageNumber(ping: Ping, channel: VerifiedChannel): Promise<boolean> {
    const now = new Date(this.now());
    const res = await this.Channel.updateOne(
      { _id: ping.channelId, status: { $ne: 'stopped' }, lastMessageNumber: { $lt: ping.messageNumber } },
      { $set: { lastMessageNumber: ping.messageNumber, lastPingAt: now } },
    );
    const counted = res.matchedCount > 0;
    // A verified ping shows the channel delivers whatever its number, so lastPingAt stays truthful
    // even when someone has pinned the number high; to the second, so that a storm of retried or
    // replayed pings costs one write a second rather than one each.
    if (!counted && (!channel.lastPingAt || now.getTime() - channel.lastPingAt.getTime() >= LAST_PING_RESOLUTION_MS)) {
      await this.Channel.updateOne({ _id: ping.channelId, status: { $ne: 'stopped' } }, { $max: { lastPingAt: now } });
    }
    if (channel.resourceIdKnown) return counted;
    // A verified ping on a channel whose watch has not returned tells us its resource id; keeping it
    // means the channel can still be stopped if the watch call never completes.
    await this.Channel.updateOne({ _id: ping.channelId, resourceId: null }, { $set: { resourceId: ping.resourceId } });
    return counted;
  }
}
