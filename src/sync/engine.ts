import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { calendar_v3 } from 'googleapis';
import { isValidObjectId, Types } from 'mongoose';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { Models } from '../models/index.js';
import { MAX_PAGE_SIZE } from '../google/list-events.js';
import { realSleep, type Sleep } from './backoff.js';
import { absorbRequests, acquireLease, continueLease, markDirty, releaseLease, renewLease, type LeaseSnapshot } from './lease.js';
import type { PassStatus, SyncErrorCode, SyncOutcome, SyncRunResult } from './outcome.js';
import { runPass, SyncError, type PageStoredInfo, type PassResult } from './run-pass.js';
import type { SyncRequest, SyncRequester } from './types.js';
import { WorkQueue } from './work-queue.js';

/** What the Google client factory gets to pick credentials. */
export interface CalendarRef {
  id: string;
  accountId: string;
  googleCalendarId: string;
}

export interface SyncEngineOptions {
  models: Models;
  sync: Config['sync'];
  /** Builds the API client for a calendar's account (the accounts module decrypts credentials). */
  clientFor: (calendar: CalendarRef) => Promise<calendar_v3.Calendar> | calendar_v3.Calendar;
  logger?: Logger;
  /** Lease owner id; unique per process by default. */
  owner?: string;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** events.list maxResults; 2500 unless a test wants many small pages. */
  pageSize?: number;
  /** Metrics hook: called once per pass, after its state is persisted. Must not throw. */
  onSyncFinished?: (outcome: SyncOutcome) => void;
  /** Called after each page is stored (progress, and tests that pause or crash a sync mid-way). */
  onPageStored?: (info: PageStoredInfo) => Promise<void> | void;
}

const NEEDS_ATTENTION: ReadonlySet<SyncErrorCode> = new Set(['permission', 'not_found', 'credentials_unavailable']);

function statusFor(error: SyncError | null): PassStatus {
  if (!error) return 'ok';
  if (error.code === 'lease_lost') return 'lease_lost';
  return NEEDS_ATTENTION.has(error.code) ? 'needs_attention' : 'failed';
}

/**
 * The incremental sync engine. `requestSync` is what pings, cron and the admin API call; it
 * returns at once and the work runs here with bounded concurrency. `syncCalendar` runs (or
 * coalesces) a sync and resolves when it is done. Across replicas, the lease in MongoDB decides
 * who syncs; everyone else leaves a dirty flag for the holder.
 */
export class SyncEngine implements SyncRequester {
  readonly owner: string;
  private readonly models: Models;
  private readonly sync: Config['sync'];
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly pageSize: number;
  private readonly leaseMs: number;
  private readonly queue: WorkQueue;
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  // Orders requests against passes in this process (see coveredLocally); a counter, not a clock.
  private seq = 0;
  private readonly requestSeq = new Map<string, number>();
  private readonly coveredSeq = new Map<string, number>();
  /** Syncs of this process between their start and taking the lease (see requestSync). */
  private readonly starting = new Map<string, SyncRequest & { again: boolean }>();

  constructor(private readonly opts: SyncEngineOptions) {
    this.models = opts.models;
    this.sync = opts.sync;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'sync' });
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.pageSize = opts.pageSize ?? MAX_PAGE_SIZE;
    this.leaseMs = opts.sync.leaseSeconds * 1000;
    this.queue = new WorkQueue(opts.sync.concurrency, async (calendarId, request) => {
      if (request.mode !== 'full' && this.coveredLocally(calendarId)) return;
      try {
        const run = await this.syncCalendar(calendarId, request);
        this.log.debug({ calendarId, status: run.status, passes: run.passes.length }, 'requested sync done');
      } catch (err) {
        // Database trouble, most likely. A lease left behind expires and the sweep recovers it.
        this.log.error({ calendarId, err: { message: (err as Error).message } }, 'requested sync crashed');
      }
    });
  }

  /** Non-blocking: queues the calendar (coalesced locally and across replicas) and returns. */
  requestSync(calendarId: string, request: SyncRequest = {}): void {
    if (this.closing.signal.aborted) return;
    if (!isValidObjectId(calendarId)) {
      this.log.warn({ calendarId }, 'sync requested for an invalid calendar id; ignored');
      return;
    }
    // A sync of this calendar that has not taken its lease yet will see everything up to now:
    // this request is already covered.
    const starting = this.starting.get(calendarId);
    if (starting && (request.mode !== 'full' || starting.mode === 'full')) {
      starting.again = true;
      return;
    }
    this.requestSeq.set(String(calendarId), ++this.seq);
    this.queue.push(String(calendarId), request);
  }

  /**
   * True when every request this process queued for the calendar came before a pass of this
   * process started listing: that pass saw their changes, so another pass would find nothing.
   */
  private coveredLocally(calendarId: string): boolean {
    const requested = this.requestSeq.get(calendarId) ?? 0;
    const covered = this.coveredSeq.get(calendarId) ?? 0;
    return requested <= covered;
  }

  /**
   * Syncs now and resolves when this process is done: 'synced' (it held the lease and ran one or
   * more passes), 'coalesced' (another holder will run the pass) or 'skipped' (unknown calendar, or
   * one that needs attention and no explicit `mode` was given).
   */
  syncCalendar(calendarId: string, request: SyncRequest = {}): Promise<SyncRunResult> {
    const id = String(calendarId);
    const p = this.runSync(id, request);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Resolves when every requested sync of this process has finished. */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  /**
   * Finds calendars left 'syncing' by a holder whose lease expired (a crashed or stalled process),
   * marks them failed with `lease_expired`, and requests a sync for each. For the cron.
   */
  async sweepStuckSyncs(): Promise<string[]> {
    const { Calendar } = this.models;
    const now = this.now();
    const stuckFilter = { state: 'syncing' as const, $or: [{ lease: null }, { 'lease.expiresAt': { $lte: now } }] };
    const stuck = await Calendar.find(stuckFilter, { _id: 1 }).lean();
    const swept: string[] = [];
    for (const { _id } of stuck) {
      const res = await Calendar.updateOne(
        { _id, ...stuckFilter },
        {
          $set: { state: 'failed', lease: null, dirty: true, lastError: { code: 'lease_expired', message: 'sync holder stopped renewing its lease', at: now } },
          $inc: { 'counters.failed': 1 },
        },
      );
      if (res.matchedCount !== 1) continue;
      const calendarId = String(_id);
      swept.push(calendarId);
      this.log.warn({ calendarId }, 'sync stuck past its lease; resyncing');
      this.requestSync(calendarId, { reason: 'sweep' });
    }
    return swept;
  }

  /** Stops taking requests, aborts backoff waits and running passes (their token is kept), waits for them. */
  async close(): Promise<void> {
    this.closing.abort(new SyncError('aborted', 'sync engine closing'));
    this.queue.clear();
    await Promise.allSettled([...this.inFlight]);
    await this.queue.onIdle();
  }

  private async runSync(calendarId: string, request: SyncRequest): Promise<SyncRunResult> {
    const { Calendar } = this.models;
    const reason = request.reason ?? 'unspecified';
    if (this.closing.signal.aborted || !isValidObjectId(calendarId)) return { status: 'skipped', passes: [] };
    // The request is recorded before trying the lease: if someone else holds it, they will see it.
    const includeNeedsAttention = request.mode !== undefined;
    let snap: LeaseSnapshot | null;
    const alreadyStarting = this.starting.has(calendarId);
    const entry = { ...request, again: false };
    if (!alreadyStarting) this.starting.set(calendarId, entry);
    try {
      do {
        // Requests folded into this one while it was starting (see requestSync) must reach whoever
        // holds the lease if this attempt loses it: record them again and retry.
        entry.again = false;
        if (!(await markDirty(Calendar, calendarId, request.mode === 'full'))) return { status: 'skipped', passes: [] };
        snap = await acquireLease(Calendar, calendarId, { owner: this.owner, leaseMs: this.leaseMs, now: this.now(), includeNeedsAttention });
      } while (!snap && entry.again);
    } finally {
      if (!alreadyStarting) this.starting.delete(calendarId);
    }
    if (!snap) {
      const blocked = !includeNeedsAttention && (await Calendar.exists({ _id: calendarId, state: 'needs_attention' }));
      return { status: blocked ? 'skipped' : 'coalesced', passes: [] };
    }

    const passes: SyncOutcome[] = [];
    let api: calendar_v3.Calendar | null = null;
    let lastPassEnd: Date | null = null;
    for (let passNumber = 1; snap; passNumber++) {
      const current: LeaseSnapshot = snap;
      if (!api) {
        try {
          api = await this.opts.clientFor({ id: calendarId, accountId: current.accountId, googleCalendarId: current.googleCalendarId });
        } catch (err) {
          this.log.error({ calendarId, err: { message: (err as Error).message } }, 'no Google client for the calendar account');
          const error = new SyncError('credentials_unavailable', (err as Error).message);
          passes.push(await this.finishPass(calendarId, current, reason, passNumber, 0, emptyResult(current, error)));
          break;
        }
      }
      if (await this.paceBeforePass(passNumber === 1 ? current.lastSyncedAt : lastPassEnd)) {
        await absorbRequests(Calendar, calendarId, this.owner);
      }
      this.coveredSeq.set(calendarId, this.seq);
      const outcome = await this.runOnePass(calendarId, current, api, reason, passNumber);
      lastPassEnd = this.now();
      passes.push(outcome);
      if (outcome.status !== 'ok') break;
      const released = await releaseLease(Calendar, calendarId, this.owner, { state: 'idle' });
      if (released !== 'dirty') break;
      // Requests arrived during the pass: one more pass covers all of them.
      snap = await continueLease(Calendar, calendarId, { owner: this.owner, leaseMs: this.leaseMs, now: this.now() });
    }
    return { status: 'synced', passes };
  }

  /**
   * A calendar that changes all the time would otherwise be synced once per change, and one busy
   * calendar could spend its user's whole quota (600 calls/min). Holding the lease while waiting
   * lets every ping that arrives meanwhile fold into this one pass; an isolated change (nothing
   * synced within the interval) is not delayed at all.
   */
  private async paceBeforePass(previousEnd: Date | null): Promise<boolean> {
    if (!previousEnd || this.sync.minIntervalMs <= 0) return false;
    const wait = previousEnd.getTime() + this.sync.minIntervalMs - this.now().getTime();
    if (wait <= 0) return false;
    // An abort (shutdown) ends the wait early; the pass then sees the signal and stops cleanly.
    await this.sleep(wait, this.closing.signal).catch(() => undefined);
    return true;
  }

  private async runOnePass(calendarId: string, snap: LeaseSnapshot, api: calendar_v3.Calendar, reason: string, passNumber: number): Promise<SyncOutcome> {
    const started = Date.now();
    const leaseLost = new AbortController();
    const signal = AbortSignal.any([this.closing.signal, leaseLost.signal]);
    const leaseOpts = () => ({ owner: this.owner, leaseMs: this.leaseMs, now: this.now() });
    const fence = async (): Promise<void> => {
      if (signal.aborted) throw signal.reason;
      if (!(await renewLease(this.models.Calendar, calendarId, leaseOpts()))) {
        const lost = new SyncError('lease_lost', 'lease taken over by another process');
        leaseLost.abort(lost);
        throw lost;
      }
    };
    // Heartbeat: long backoff waits or slow pages must not let the lease lapse.
    const heartbeat = setInterval(() => void fence().catch(() => undefined), Math.max(1000, Math.floor(this.leaseMs / 3)));
    heartbeat.unref();
    let result: PassResult;
    try {
      result = await runPass({
        models: this.models,
        calendarId,
        snapshot: snap,
        api,
        sync: this.sync,
        pageSize: this.pageSize,
        now: this.now,
        sleep: this.sleep,
        random: this.random,
        signal,
        fence,
        log: this.log,
        onPageStored: this.opts.onPageStored,
      });
    } finally {
      clearInterval(heartbeat);
    }
    return this.finishPass(calendarId, snap, reason, passNumber, Date.now() - started, result);
  }

  /** Persists the pass (counters, last error, and the lease when it failed) and reports it. */
  private async finishPass(
    calendarId: string,
    snap: LeaseSnapshot,
    reason: string,
    passNumber: number,
    durationMs: number,
    result: PassResult,
  ): Promise<SyncOutcome> {
    const { Calendar, Event } = this.models;
    const status = statusFor(result.error);
    const code = result.error?.code ?? null;
    const now = this.now();
    const inc: Record<string, number> = {
      'counters.apiCalls': result.apiCalls,
      'counters.eventsChanged': result.eventsChanged,
    };
    if (status === 'ok') inc[`counters.${result.mode}`] = 1;
    else if (status !== 'lease_lost') inc['counters.failed'] = 1;
    if (result.fallback) inc['counters.fallback'] = 1;
    let eventCount: number | null = null;
    if (status === 'lease_lost') {
      // The calendar's state now belongs to the new holder: only add what this pass cost.
      await Calendar.updateOne({ _id: calendarId }, { $inc: inc });
    } else {
      eventCount = await Event.countDocuments({ calendarId: new Types.ObjectId(calendarId) });
      await Calendar.updateOne(
        { _id: calendarId },
        {
          $inc: inc,
          $set: {
            eventCount,
            lastSyncDurationMs: durationMs,
            lastError: result.error ? { code, message: result.error.message.slice(0, 500), at: now } : null,
          },
        },
      );
    }
    if (status === 'failed' || status === 'needs_attention') {
      // The token is untouched. Keep a requested full sync pending, and after a shutdown make sure
      // someone runs the sync this process could not finish.
      const restore: Record<string, unknown> = { state: status };
      if (snap.pendingFullSync) restore.pendingFullSync = true;
      if (code === 'aborted') restore.dirty = true;
      await releaseLease(Calendar, calendarId, this.owner, restore, { ignoreDirty: true });
    }

    const outcome: SyncOutcome = {
      calendarId,
      mode: result.mode,
      reason,
      status,
      errorCode: code,
      fallback: result.fallback,
      tokenExpired: result.tokenExpired,
      apiCalls: result.apiCalls,
      retries: result.retries,
      eventsChanged: result.eventsChanged,
      durationMs,
      eventCount,
      passNumber,
    };
    const logFields = { ...outcome, googleCalendarId: snap.googleCalendarId };
    if (status === 'ok') this.log.info(logFields, 'sync pass finished');
    else this.log.warn({ ...logFields, error: result.error?.message }, 'sync pass did not complete');
    try {
      this.opts.onSyncFinished?.(outcome);
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message } }, 'onSyncFinished hook threw');
    }
    return outcome;
  }
}

function emptyResult(snap: LeaseSnapshot, error: SyncError): PassResult {
  return { mode: snap.syncToken ? 'incremental' : 'full', fallback: false, tokenExpired: false, apiCalls: 0, retries: 0, eventsChanged: 0, error };
}
