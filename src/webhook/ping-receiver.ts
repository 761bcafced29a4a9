import { PRIORITY } from '../sync/priority.js';
import type { SyncRequester } from '../sync/types.js';
import type { Ping, PingOutcome, RejectionReason } from './ping.js';
import type { PingVerifier } from './verify-ping.js';

/** Records a calendar-list discovery request (one durable write) for an account. */
export interface DiscoveryRequester {
  requestDiscovery(accountId: string, reason: string): Promise<unknown>;
}

export type ReceiveResult =
  | { accepted: true; outcome: PingOutcome; channelId: string; calendarId: string }
  | { accepted: false; reason: RejectionReason };

/**
 * What a ping does, in order: verify it, count its message number once, and for a change
 * (`exists` / `not_exists`) ask for a sync. `sync` pings (a channel's first message) are only
 * acknowledged. Never calls Google: the sync request is one write to MongoDB, done before the ping
 * is acknowledged (a database failure therefore answers 503 and Google retries), and coalesced.
 *
 * The message number is accounting only (`stale` = already counted): it never suppresses a change
 * ping's sync. Otherwise one ping with a huge number from a channel-token holder would mute the
 * channel until its renewal; a replayed ping costs at most one coalesced extra pass.
 */
export class PingReceiver {
  constructor(
    private readonly verifier: PingVerifier,
    private readonly sync: SyncRequester,
    /** Pings of calendarList channels ask for a discovery pass of their account. */
    private readonly discovery?: DiscoveryRequester,
  ) {}

  async receive(ping: Ping): Promise<ReceiveResult> {
    const verdict = await this.verifier.verify(ping);
    if (!verdict.ok) return { accepted: false, reason: verdict.reason };
    const { channelId, calendarId } = verdict.channel;
    const counted = await this.verifier.recordMessageNumber(ping, verdict.channel);
    if (ping.resourceState === 'sync') return { accepted: true, outcome: counted ? 'acknowledged' : 'stale', channelId, calendarId };
    if (verdict.channel.kind === 'calendarList') {
      // The account's calendar list changed: its list sync (discovery) is requested, durably, before the 200.
      if (!this.discovery) throw new Error('a calendarList ping arrived but discovery is not wired');
      await this.discovery.requestDiscovery(verdict.channel.accountId, 'ping');
      return { accepted: true, outcome: counted ? 'sync_requested' : 'stale', channelId, calendarId };
    }
    await this.sync.requestSync(calendarId, { reason: 'ping', priority: PRIORITY.ping });
    return { accepted: true, outcome: counted ? 'sync_requested' : 'stale', channelId, calendarId };
  }
}
