import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Connection } from 'mongoose';
import { pino, type Logger } from 'pino';
import { ChangeFeed, toFeedChange } from '../changes/change-feed.js';
import { appendSignal } from '../changes/positions.js';
import { ClaimLoop, type ClaimedWork } from '../leases/claim-loop.js';
import { deliver as httpDeliver, type DeliveryRequest, type DeliveryResult } from './deliver.js';
import { DeliveryState, type ClaimedSubscription } from './delivery-state.js';
import type { SubscriptionService } from './subscription-service.js';
import type { AddressPolicy } from './subscriber-address.js';

export interface DeliveryWorkerOptions {
  conn: Connection;
  subscriptions: SubscriptionService;
  policy: AddressPolicy;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
  retryForMs: number;
  backoffMaxMs: number;
  /** First retry delay; doubles per consecutive failure up to backoffMaxMs (jittered). */
  backoffBaseMs?: number;
  leaseMs?: number;
  pollMs?: number;
  /** How long a subscription with nothing to deliver rests before it is looked at again (changes wake it sooner). */
  idleMs?: number;
  logger?: Logger;
  owner?: string;
  now?: () => Date;
  random?: () => number;
  /** The HTTP attempt (tests replace the transport only when they must). */
  deliver?: (r: DeliveryRequest) => Promise<DeliveryResult>;
  onAttempt?: (a: { outcome: 'delivered' | 'failed' | 'failing'; changes: number; oldestSeenAt: Date | null }) => void;
}

/**
 * Delivers the change feed to subscriptions, in every replica, like the sync engine runs syncs: a
 * subscription's deliveries are claimed with its lease (one batch in flight per subscription, so
 * each subscriber gets its changes in feed order), at most `concurrency` at once per process, woken
 * at once by changes this process appends and by a poll for everything else. It shares nothing with
 * syncing but the database: a slow subscriber holds one delivery slot, never a sync.
 */
export class DeliveryWorker {
  readonly owner: string;
  readonly state: DeliveryState;
  private readonly feed: ChangeFeed;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly onAppended = () => this.changesAppended();
  private readonly loop: ClaimLoop;
  private started = false;
  private nudging = false;

  constructor(private readonly o: DeliveryWorkerOptions) {
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.state = new DeliveryState(o.subscriptions.Subscription);
    this.feed = new ChangeFeed(o.conn, { retentionMs: Number.MAX_SAFE_INTEGER, now: o.now });
    this.log = (o.logger ?? pino({ level: 'silent' })).child({ component: 'deliveries' });
    this.now = o.now ?? (() => new Date());
    this.random = o.random ?? Math.random;
    this.loop = new ClaimLoop({
      concurrency: o.concurrency,
      pollMs: o.pollMs ?? 1000,
      random: this.random,
      now: this.now,
      log: this.log,
      claimFailedMessage: 'claiming deliveries failed',
      claim: () => this.claimDue(),
    });
  }

  start(): void {
    if (this.started || this.loop.signal.aborted) return;
    this.started = true;
    appendSignal(this.o.conn).on('appended', this.onAppended);
    this.loop.start();
  }

  /** Claims due subscriptions now (tests, and after a change). */
  wake(): void {
    this.loop.pump();
  }

  /** Stops claiming and waits for attempts in flight (each ends by its own deadline); leases are released. */
  async close(): Promise<void> {
    appendSignal(this.o.conn).off('appended', this.onAppended);
    await this.loop.close();
  }

  private changesAppended(): void {
    // Idle subscriptions are marked due for every replica; this one also claims at once.
    if (!this.nudging) {
      this.nudging = true;
      void this.state
        .nudge(this.now())
        .catch(() => undefined)
        .finally(() => {
          this.nudging = false;
          this.loop.pump();
        });
    }
    this.loop.pump();
  }

  /** Due subscriptions, claimed one at a time (each claim is the subscription's lease). */
  private async *claimDue(): AsyncGenerator<ClaimedWork> {
    while (!this.loop.signal.aborted && (await this.state.anyDue(this.now()))) {
      const claimed = await this.state.claim(this.owner, this.o.leaseMs ?? 60_000, this.now());
      if (!claimed) return;
      yield () => this.process(claimed);
    }
  }

  private async process(s: ClaimedSubscription): Promise<void> {
    // Claimed while this replica was closing (the claim was in flight): let it go for another replica.
    if (this.loop.signal.aborted) {
      await this.state.release(s).catch(() => undefined);
      return;
    }
    try {
      const rows = await this.feed.records({ after: s.position, limit: this.o.batchSize * 4 });
      if (rows.length === 0) {
        await this.state.idle(s, new Date(this.now().getTime() + (this.o.idleMs ?? 10_000)));
        return;
      }
      // The batch: the next changes for this subscriber, of one calendar, in feed order. `upTo` is
      // the last position looked at, so changes not for this subscriber are stepped over once.
      const batch: typeof rows = [];
      let upTo = s.position;
      for (const r of rows) {
        const wanted = (s.calendarIds.length === 0 || s.calendarIds.includes(r.calendarId.toHexString())) && (s.types.length === 0 || s.types.includes(r.type));
        if (wanted) {
          if (batch.length === this.o.batchSize || (batch.length > 0 && !batch[0]!.calendarId.equals(r.calendarId))) break;
          batch.push(r);
        }
        upTo = r.seq;
      }
      if (batch.length === 0) {
        await this.state.skipped(s, upTo);
        return;
      }
      // The signature's timestamp is checked against the subscriber's wall clock, never a test clock.
      const now = new Date();
      const result = await (this.o.deliver ?? httpDeliver)({
        url: s.url,
        secret: this.o.subscriptions.openSecret(s.id, s.secret),
        // The same batch keeps its id on every retry (subscribers deduplicate on it).
        messageId: `msg_${s.id.toHexString()}_${batch[0]!.seq}`,
        calendarId: batch[0]!.calendarId.toHexString(),
        changes: batch.map(toFeedChange),
        now,
        timeoutMs: this.o.timeoutMs,
        policy: this.o.policy,
      });
      const oldestSeenAt = batch[0]!.seenAt;
      if (result.ok) {
        await this.state.delivered(s, upTo, batch.length, this.now());
        this.o.onAttempt?.({ outcome: 'delivered', changes: batch.length, oldestSeenAt });
        return;
      }
      const base = this.o.backoffBaseMs ?? 1000;
      const delay = Math.min(this.o.backoffMaxMs, base * 2 ** Math.min(s.attempts, 30)) * (0.5 + this.random() / 2);
      const verdict = await this.state.failed(s, { message: result.message, status: result.status }, { now: this.now(), retryAt: new Date(this.now().getTime() + delay), retryForMs: this.o.retryForMs });
      this.o.onAttempt?.({ outcome: verdict === 'failing' ? 'failing' : 'failed', changes: batch.length, oldestSeenAt });
      // The URL is the operator's; it is logged without its query (which may carry a token).
      const url = new URL(s.url);
      this.log.warn({ subscriptionId: s.id.toHexString(), host: url.host, status: result.status, attempts: s.attempts + 1, verdict }, 'webhook delivery failed');
    } catch (err) {
      // Database trouble or an unreadable secret: rest a while rather than spin on it.
      await this.state.rest(s, new Date(this.now().getTime() + (this.o.idleMs ?? 10_000))).catch(() => undefined);
      this.log.error({ subscriptionId: s.id.toHexString(), err: { message: (err as Error).message } }, 'delivery crashed');
    }
  }

}
