import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isValidObjectId } from 'mongoose';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { Models } from '../models/index.js';
import { MAX_PAGE_SIZE } from '../google/list-events.js';
import { ClaimLoop, type ClaimedWork } from '../leases/claim-loop.js';
import { unlimitedQuota, type QuotaGate } from '../quota/quota-gate.js';
import { realSleep, type Sleep } from './backoff.js';
import { failureRetryDelay, runClaimedSync, type ClaimedSyncDeps, type ClaimedSyncResult } from './claimed-sync.js';
import type { SyncOutcome, SyncRunResult } from './outcome.js';
import { spreadWithinPriority } from './claim-order.js';
import { QuotaDeferrals } from './quota-deferrals.js';
import { PRIORITY } from './priority.js';
import { SyncError, type PageStoredInfo } from './run-pass.js';
import { SyncStateRepository, type ClaimedSync } from './sync-state.js';
import type { RequestOutcome, SyncRequest, SyncRequester } from './types.js';

export type { CalendarRef } from './claimed-sync.js';

/** Due calendars one look reads at least: the window replicas spread their claims over. */
const CANDIDATE_WINDOW = 16;

export interface SyncEngineOptions {
  models: Models;
  sync: Config['sync'];
  /** Builds the API client for a calendar's account (the accounts module decrypts credentials). */
  clientFor: ClaimedSyncDeps['clientFor'];
  logger?: Logger;
  /** Lease owner id; unique per process by default. */
  owner?: string;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** events.list maxResults; 2500 unless a test wants many small pages. */
  pageSize?: number;
  /** Budgets for Google calls shared by every replica (none by default). */
  quota?: QuotaGate;
  /** How often an idle process looks for work that other replicas recorded (ms, jittered). */
  pollMs?: number;
  /** Metrics hook: called once per pass, after its state is persisted. Must not throw. */
  onSyncFinished?: (outcome: SyncOutcome) => void;
  /** Called after each page is stored (progress, and tests that pause or crash a sync mid-way). */
  onPageStored?: (info: PageStoredInfo) => Promise<void> | void;
  /** Google refused an account's refresh token during a pass (see ClaimedSyncDeps). */
  onReauthRequired?: ClaimedSyncDeps['onReauthRequired'];
}

/**
 * Schedules syncs, and nothing else. A request is written to the calendar's state in MongoDB
 * before `requestSync` resolves; every started engine (one per replica) claims due calendars by
 * priority with one atomic compare-and-set that is also the lease, and runs at most
 * SYNC_CONCURRENCY of them. A request recorded here wakes this process at once; requests recorded
 * by other replicas are found by polling. Pacing, retry back-off and crash recovery are all times
 * stored with the calendar (src/sync/sync-state.ts), so no process sleeps on a slot and a killed
 * replica's work is claimed by the others when its lease runs out.
 */
export class SyncEngine implements SyncRequester {
  readonly owner: string;
  readonly state: SyncStateRepository;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly deps: ClaimedSyncDeps;
  private readonly loop: ClaimLoop;
  private readonly deferrals = new QuotaDeferrals();

  constructor(opts: SyncEngineOptions) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'sync' });
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.leaseMs = opts.sync.leaseSeconds * 1000;
    this.state = new SyncStateRepository(opts.models.Calendar);
    this.deps = {
      models: opts.models,
      state: this.state,
      sync: opts.sync,
      quota: opts.quota ?? unlimitedQuota,
      clientFor: opts.clientFor,
      log: this.log,
      now: this.now,
      sleep: this.sleep,
      random: this.random,
      pageSize: opts.pageSize ?? MAX_PAGE_SIZE,
      onSyncFinished: opts.onSyncFinished,
      onPageStored: opts.onPageStored,
      onReauthRequired: opts.onReauthRequired,
    };
    this.loop = new ClaimLoop({
      concurrency: opts.sync.concurrency,
      pollMs: opts.pollMs ?? 1000,
      random: this.random,
      now: this.now,
      log: this.log,
      claimFailedMessage: 'claiming due syncs failed',
      claim: (free) => this.claimDue(free),
    });
  }

  /** Starts claiming due work in this process (every replica runs one started engine). */
  start(): void {
    this.loop.start();
  }

  /** Records the request durably, then wakes this process's claimer. */
  async requestSync(calendarId: string, request: SyncRequest = {}): Promise<RequestOutcome> {
    if (!isValidObjectId(calendarId)) {
      this.log.warn({ calendarId }, 'sync requested for an invalid calendar id; ignored');
      return 'skipped';
    }
    const recorded = await this.record(String(calendarId), request);
    if (!recorded) return 'skipped';
    // A sync running now sees the request when it ends (or its lease runs out and the poll finds it).
    if (!recorded.held) this.loop.wakeAt(recorded.notBefore);
    return 'requested';
  }

  /**
   * Requests a sync and runs it in this process now (not bounded by SYNC_CONCURRENCY), resolving when
   * it is done: 'synced' (this process ran one or more passes), 'coalesced' (another process holds
   * the calendar and will run the pass) or 'skipped' (unknown calendar, or one that needs attention
   * and no explicit `mode` was given). For scripts and tests; the server only uses `requestSync`.
   */
  async syncCalendar(calendarId: string, request: SyncRequest = {}): Promise<SyncRunResult> {
    const id = String(calendarId);
    if (this.loop.signal.aborted || !isValidObjectId(id) || !(await this.record(id, request))) return { status: 'skipped', passes: [] };
    const passes: SyncOutcome[] = [];
    while (!this.loop.signal.aborted) {
      const claimed = await this.state.claim({ owner: this.owner, leaseMs: this.leaseMs, now: this.now(), calendarId: id });
      if (!claimed) {
        const waitMs = await this.untilClaimable(id);
        if (waitMs === null) break;
        await this.sleep(waitMs, this.loop.signal).catch(() => undefined);
        continue;
      }
      const result = await this.loop.track(this.runOrLetGo(claimed));
      if (result.kind === 'deferred') {
        await this.sleep(Math.max(0, result.until.getTime() - this.now().getTime()), this.loop.signal).catch(() => undefined);
        continue;
      }
      passes.push(result.outcome);
      if (result.outcome.status !== 'ok' || !result.dueAgainAt) break;
    }
    return { status: passes.length > 0 ? 'synced' : 'coalesced', passes };
  }

  /**
   * Resolves when this process runs no pass and its last look found nothing claimable. Work due later
   * (pacing, back-off) does not count: a timer claims it then.
   */
  onIdle(): Promise<void> {
    return this.loop.onIdle();
  }

  /** Calendars whose holder stopped renewing its lease are shown as failed (for the cron). */
  sweepStuckSyncs(): Promise<string[]> {
    return this.state.sweep(this.now());
  }

  /**
   * Stops claiming, aborts running passes (their token is kept; their calendars are released at once
   * with every request still recorded, for another replica to take) and waits for them.
   */
  async close(): Promise<void> {
    await this.loop.close(new SyncError('aborted', 'sync engine closing'));
  }

  private record(calendarId: string, request: SyncRequest): Promise<{ notBefore: Date; held: boolean } | null> {
    const priority = request.priority ?? PRIORITY.recovery;
    // An explicit mode is an operator's request: it also runs for a calendar that needs attention.
    return this.state.request(calendarId, { priority, full: request.mode === 'full', force: request.mode !== undefined }, this.now());
  }

  /** How long until the calendar may be claimed here; null when another process holds it or nothing is due. */
  private async untilClaimable(calendarId: string): Promise<number | null> {
    const doc = await this.deps.models.Calendar.findById(calendarId, { syncHeldBy: 1, syncNotBefore: 1, dueAt: 1 }).lean();
    const now = this.now().getTime();
    if (!doc || doc.syncHeldBy || !doc.dueAt || doc.dueAt.getTime() > now) return null;
    return Math.max(0, (doc.syncNotBefore?.getTime() ?? 0) - now);
  }

  /**
   * Due calendars, claimed one by one by id: more candidates than free slots (other replicas take
   * some first), tried from a random point within each priority class (src/sync/claim-order.ts).
   */
  private async *claimDue(free: number): AsyncGenerator<ClaimedWork> {
    const due = await this.state.candidates(this.now(), Math.max(free * 2, CANDIDATE_WINDOW));
    for (const c of spreadWithinPriority(due, this.random)) {
      if (this.loop.signal.aborted) return;
      const now = this.now();
      const spentUntil = this.deferrals.blockedUntil(c.accountId, c.priority, now);
      if (spentUntil) {
        // Out of the window until the budget is back, so calendars of other accounts are reached.
        await this.state.postpone(c.id, spentUntil, now);
        continue;
      }
      const claimed = await this.state.claim({ owner: this.owner, leaseMs: this.leaseMs, now, calendarId: c.id });
      if (claimed) yield () => this.run(claimed);
    }
  }

  /**
   * A pass that throws past its own error handling met the database failing while it recorded its
   * verdict. Its lease is let go on a best-effort basis, requests intact and due after the failure
   * back-off, so a short outage costs that wait rather than the whole lease; when the database is
   * still gone the lease runs out as before.
   */
  private async runOrLetGo(claimed: ClaimedSync): Promise<ClaimedSyncResult> {
    try {
      return await runClaimedSync(this.deps, claimed, this.loop.signal);
    } catch (err) {
      const retryMs = failureRetryDelay(this.deps.sync.retryAfterFailureMs, claimed.consecutiveFailures, this.deps.random);
      const until = new Date(this.now().getTime() + retryMs);
      if (await this.state.release(claimed, { until }).catch(() => false)) this.loop.wakeAt(until);
      throw err;
    }
  }

  private async run(claimed: ClaimedSync): Promise<void> {
    try {
      const result: ClaimedSyncResult = await this.runOrLetGo(claimed);
      if (result.kind === 'deferred') {
        this.deferrals.note(claimed.accountId, claimed.priority, result.until);
        this.loop.wakeAt(result.until);
      } else if (result.dueAgainAt) this.loop.wakeAt(result.dueAgainAt);
    } catch (err) {
      // Database trouble (see runOrLetGo): the calendar is claimed again later, requests intact.
      this.log.error({ calendarId: claimed.calendarId, err: { message: (err as Error).message } }, 'sync crashed');
    }
  }
}
