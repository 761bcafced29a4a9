import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Connection } from 'mongoose';
import { pino, type Logger } from 'pino';
import { ChangeFeed, toFeedChange } from '../changes/change-feed.js';
import { appendSignal } from '../changes/positions.js';
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
  private readonly running = new Set<Promise<void>>();
  private readonly onAppended = () => this.changesAppended();
  private started = false;
  private closed = false;
  private pumping = false;
  private pumpAgain = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private nudging = false;

  constructor(private readonly o: DeliveryWorkerOptions) {
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.state = new DeliveryState(o.subscriptions.Subscription);
    this.feed = new ChangeFeed(o.conn, { retentionMs: Number.MAX_SAFE_INTEGER, now: o.now });
    this.log = (o.logger ?? pino({ level: 'silent' })).child({ component: 'deliveries' });
    this.now = o.now ?? (() => new Date());
    this.random = o.random ?? Math.random;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    appendSignal(this.o.conn).on('appended', this.onAppended);
    this.schedulePoll();
    this.pump();
  }

  /** Claims due subscriptions now (tests, and after a change). */
  wake(): void {
    this.pump();
  }

  /** Stops claiming and waits for attempts in flight (each ends by its own deadline); leases are released. */
  async close(): Promise<void> {
    this.closed = true;
    appendSignal(this.o.conn).off('appended', this.onAppended);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await Promise.allSettled([...this.running]);
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
          this.pump();
        });
    }
    this.pump();
  }

  private pump(): void {
    if (!this.started || this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      try {
        do {
          this.pumpAgain = false;
          while (this.running.size < this.o.concurrency && !this.closed) {
            if (!(await this.state.anyDue(this.now()))) break;
            const claimed = await this.state.claim(this.owner, this.o.leaseMs ?? 60_000, this.now());
            if (!claimed) break;
            const p = this.process(claimed).finally(() => {
              this.running.delete(p);
              this.pump();
            });
            this.running.add(p);
          }
        } while (this.pumpAgain && !this.closed);
      } catch (err) {
        this.log.error({ err: { message: (err as Error).message } }, 'claiming deliveries failed');
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async process(s: ClaimedSubscription): Promise<void> {
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

  private schedulePoll(): void {
    if (this.closed) return;
    const pollMs = this.o.pollMs ?? 1000;
    this.pollTimer = setTimeout(() => {
      this.pump();
      this.schedulePoll();
    }, Math.round(pollMs * (0.75 + this.random() / 2)));
    this.pollTimer.unref();
  }
}
