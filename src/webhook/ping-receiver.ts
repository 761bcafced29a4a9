import { PRIORITY } from '../sync/priority.js';
import type { SyncRequester } from '../sync/types.js';
import type { Ping, PingOutcome, RejectionReason } from './ping.js';
import type { PingVerifier } from './verify-ping.js';

export type ReceiveResult =
  | { accepted: true; outcome: PingOutcome; channelId: string; calendarId: string }
  | { accepted: false; reason: RejectionReason };

/**
 * What a ping does, in order: verify it, count its message number once, and for a change
 * (`exists` / `not_exists`) ask for a sync. `sync` pings (a channel's first message) are only
 * acknowledged. Never calls Google: the sync request is one write to MongoDB, done before the ping
 * is acknowledged (a database failure therefore answers 503 and Google retries), and coalesced.
 */
export class PingReceiver {
  constructor(
    private readonly verifier: PingVerifier,
    private readonly sync: SyncRequester,
  ) {}

  async receive(ping: Ping): Promise<ReceiveResult> {
    const verdict = await this.verifier.verify(ping);
    if (!verdict.ok) return { accepted: false, reason: verdict.reason };
    const { channelId, calendarId } = verdict.channel;
    if (!(await this.verifier.recordMessageNumber(ping, verdict.channel))) return { accepted: true, outcome: 'stale', channelId, calendarId };
    if (ping.resourceState === 'sync') return { accepted: true, outcome: 'acknowledged', channelId, calendarId };
    await this.sync.requestSync(calendarId, { reason: 'ping', priority: PRIORITY.ping });
    return { accepted: true, outcome: 'sync_requested', channelId, calendarId };
  }
}
