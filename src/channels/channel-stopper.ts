import type { CalendarClients } from '../accounts/calendar-clients.js';
import { AccountReauthRequiredError } from '../accounts/account-service.js';
import { classifyGoogleError, isRevokedGrant } from '../google/google-errors.js';
import { Lease, type Held } from '../leases/lease.js';
import { unlimitedQuota, type QuotaGate } from '../quota/quota-gate.js';
import { NEVER, PRIORITY } from '../sync/priority.js';
import type { ChannelModel } from './channel-model.js';
import { stopMeansGone } from './watch-refusal.js';

/** The logging surface channel work needs (pino and Fastify's logger both fit). */
export interface ChannelLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StopSummary {
  stopped: number;
  failed: number;
}

export const STOP_LEASE_FIELDS = { until: 'stopNotBefore', owner: 'stopHeldBy', epoch: 'stopEpoch' } as const;

/** How long one stopper holds a channel before another may try (covers one channels.stop call). */
const STOP_LEASE_MS = 60_000;
/** Channels claimed per stop sweep at most; what is left waits for the next sweep. */
const MAX_STOPS_PER_SWEEP = 5_000;

type Claimed = { _id: string; accountId: { toHexString(): string }; resourceId?: string | null; stopNotBefore?: Date | null };
const CLAIMED_PROJECTION = { accountId: 1, resourceId: 1, stopNotBefore: 1 } as const;

/**
 * Stops superseded channels at Google. A channel is claimed first with the stop lease on its
 * document, so two stoppers never both call channels.stop for it. Success, or 404/410 ("already
 * gone"), marks it stopped; any other failure leaves it superseded with `stopAttempts` /
 * `lastStopError`, claimable again at once (retried by every sweep): no channel is forgotten while
 * Google may still deliver on it.
 */
export class ChannelStopper {
  private readonly lease: Lease;

  constructor(
    private readonly deps: {
      Channel: ChannelModel;
      clients: CalendarClients;
      log: ChannelLog;
      now: () => number;
      timeoutMs: number;
      owner: string;
      quota?: QuotaGate;
      /** Google refused the account's refresh token (credentials picked up at `since`). */
      onReauthRequired?: (accountId: string, reason: string, since: Date) => Promise<void>;
    },
  ) {
    this.lease = new Lease(deps.Channel, STOP_LEASE_FIELDS);
  }

  /**
   * Stops the superseded channels matching `filter` (all by default) that wait for a stop, one claim
   * at a time, never reading them all. Each channel is tried at most once per sweep: meeting one
   * again (its stop failed earlier in this sweep) ends the sweep.
   */
  async stopSuperseded(filter: Record<string, unknown> = {}): Promise<StopSummary> {
    const summary: StopSummary = { stopped: 0, failed: 0 };
    const tried = new Set<string>();
    while (tried.size < MAX_STOPS_PER_SWEEP) {
      const claimed = await this.claim({ ...filter, status: 'superseded' }, { stopNotBefore: 1 });
      if (!claimed) break;
      if (tried.has(claimed.doc._id)) {
        // Hand it back as it was: the next sweep retries it.
        await this.lease.release(claimed.held, { until: claimed.doc.stopNotBefore ?? new Date(this.deps.now()) });
        break;
      }
      tried.add(claimed.doc._id);
      const r = await this.stopClaimed(claimed.doc, claimed.held);
      if (r === 'stopped') summary.stopped++;
      else summary.failed++;
    }
    return summary;
  }

  /** 'busy' when the channel is not superseded any more or another stopper holds it. */
  async stop(channelId: string): Promise<'stopped' | 'failed' | 'busy'> {
    const claimed = await this.lease.claimById<Claimed>(channelId, {
      owner: this.deps.owner,
      leaseMs: STOP_LEASE_MS,
      now: new Date(this.deps.now()),
      filter: { status: 'superseded' },
      projection: CLAIMED_PROJECTION,
    });
    if (!claimed) return 'busy';
    return this.stopClaimed(claimed.doc, claimed.held);
  }

  private claim(filter: Record<string, unknown>, sort?: Record<string, 1>): Promise<{ doc: Claimed; held: Held } | null> {
    return this.lease.claim<Claimed>(filter, {
      owner: this.deps.owner,
      leaseMs: STOP_LEASE_MS,
      now: new Date(this.deps.now()),
      sort,
      projection: CLAIMED_PROJECTION,
    });
  }

  private async stopClaimed(channel: Claimed, held: Held): Promise<'stopped' | 'failed'> {
    const channelId = channel._id;
    if (!channel.resourceId) {
      await this.markStopped(held, 'never confirmed by Google: nothing to stop');
      return 'stopped';
    }
    const accountId = channel.accountId.toHexString();
    const since = new Date(); // wall clock, like the account's statusChangedAt
    try {
      const client = await this.deps.clients.forAccount(accountId);
      await (this.deps.quota ?? unlimitedQuota).acquire(accountId, PRIORITY.renewal);
      await client.channels.stop({ requestBody: { id: channelId, resourceId: channel.resourceId } }, { timeout: this.deps.timeoutMs });
    } catch (err) {
      const revoked = isRevokedGrant(err);
      if (revoked || err instanceof AccountReauthRequiredError) {
        if (revoked) await this.deps.onReauthRequired?.(accountId, 'Google refused the refresh token while stopping a channel (invalid_grant)', since);
        // Parked until the account is reconnected, which re-arms the stop (its new token may stop it).
        await this.lease.release(held, { inc: { stopAttempts: 1 }, set: { lastStopError: 'account needs reconnecting' }, until: NEVER });
        return 'failed';
      }
      if (stopMeansGone(err)) {
        await this.markStopped(held, 'already gone at Google');
        return 'stopped';
      }
      const message = classifyGoogleError(err).message;
      await this.lease.release(held, { inc: { stopAttempts: 1 }, set: { lastStopError: message }, until: new Date(this.deps.now()) });
      this.deps.log.warn({ channelId, error: message }, 'channels.stop failed; will retry');
      return 'failed';
    }
    await this.markStopped(held, null);
    return 'stopped';
  }

  private async markStopped(held: Held, note: string | null): Promise<void> {
    const set: Record<string, unknown> = { status: 'stopped', stoppedAt: new Date(this.deps.now()) };
    if (note) set.endReason = note;
    await this.lease.release(held, { set, until: NEVER });
  }
}
