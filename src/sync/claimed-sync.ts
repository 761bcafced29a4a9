import type { calendar_v3 } from 'googleapis';
import { Types } from 'mongoose';
import type { Logger } from 'pino';
import { AccountReauthRequiredError } from '../accounts/account-service.js';
import type { Config } from '../config/env.js';
import { isRevokedGrant } from '../google/google-errors.js';
import { isDatabaseUnavailable } from '../db/database-unavailable.js';
import type { Models } from '../models/index.js';
import type { QuotaGate } from '../quota/quota-gate.js';
import type { Sleep } from './backoff.js';
import type { PassStatus, SyncErrorCode, SyncOutcome } from './outcome.js';
import { PRIORITY_NAMES } from './priority.js';
import { runPass, SyncError, type PageStoredInfo, type PassResult, type TokenCommit } from './run-pass.js';
import type { ClaimedSync, PassRecord, SyncStateRepository } from './sync-state.js';

/** What the Google client factory gets to pick credentials. */
export interface CalendarRef {
  id: string;
  accountId: string;
  googleCalendarId: string;
}

export interface ClaimedSyncDeps {
  models: Models;
  state: SyncStateRepository;
  sync: Config['sync'];
  quota: QuotaGate;
  clientFor: (calendar: CalendarRef) => Promise<calendar_v3.Calendar> | calendar_v3.Calendar;
  log: Logger;
  now: () => Date;
  sleep: Sleep;
  random: () => number;
  pageSize: number;
  onSyncFinished?: (outcome: SyncOutcome) => void;
  onPageStored?: (info: PageStoredInfo) => Promise<void> | void;
  /**
   * Google refused the account's refresh token (invalid_grant) during this pass, whose credentials
   * were picked up at `since`: the account is marked and its calendars parked (src/access/).
   */
  onReauthRequired?: (accountId: string, reason: string, since: Date) => Promise<void>;
}

/** A claimed sync's result: the pass outcome, or a deferral (the quota could not take it yet). */
export type ClaimedSyncResult =
  | { kind: 'pass'; outcome: SyncOutcome; dueAgainAt: Date | null }
  | { kind: 'deferred'; until: Date };

const NEEDS_ATTENTION: ReadonlySet<SyncErrorCode> = new Set(['permission', 'not_found', 'credentials_unavailable', 'reauth_required']);

function statusFor(error: SyncError | null): PassStatus {
  if (!error) return 'ok';
  if (error.code === 'lease_lost') return 'lease_lost';
  if (error.code === 'aborted') return 'aborted';
  return NEEDS_ATTENTION.has(error.code) ? 'needs_attention' : 'failed';
}

/** A quota wait longer than this gives the slot back instead of holding it. */
const DEFER_AFTER_MS = 2_000;
/** Longest wait before a failed calendar is retried. */
const RETRY_MAX_MS = 30 * 60_000;

/** Retry of a failed calendar: the base doubling per consecutive failure, capped, jittered in [½, 1]. */
export function failureRetryDelay(baseMs: number, consecutiveFailures: number, random: () => number): number {
  const ceiling = Math.min(RETRY_MAX_MS, baseMs * 2 ** Math.min(consecutiveFailures, 10));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs one sync pass of a calendar this process has claimed, and records its verdict through the
 * sync-state repository. The lease is renewed by a heartbeat and checked before every write; a
 * shutdown aborts the pass (its token kept, its requests left for whoever claims next).
 */
export async function runClaimedSync(deps: ClaimedSyncDeps, claimed: ClaimedSync, closing: AbortSignal): Promise<ClaimedSyncResult> {
  const { calendarId } = claimed;
  const reason = PRIORITY_NAMES[claimed.priority] ?? 'unknown';
  if (claimed.reclaimed) deps.log.warn({ calendarId }, 'reclaimed a sync whose previous holder stopped renewing its lease');
  // Claimed while this process was closing (the claim was in flight): let it go at once, requests
  // intact, before anything else can fail on the way down and be taken for the calendar's fault.
  if (closing.aborted) return finish(deps, claimed, reason, 0, emptyResult(claimed, new SyncError('aborted', 'sync engine closing')));

  // Quota first: a calendar whose account (or the project) is out of budget for this priority gives
  // its slot back, so more urgent work of other accounts is not stuck behind it.
  const wait = await deps.quota.waitFor(claimed.accountId, claimed.priority);
  if (wait > DEFER_AFTER_MS) {
    const until = new Date(deps.now().getTime() + wait);
    await deps.state.release(claimed, { until });
    deps.log.debug({ calendarId, waitMs: wait }, 'sync deferred by the quota governor');
    return { kind: 'deferred', until };
  }

  const started = Date.now();
  // Wall clock, like the account's statusChangedAt it is compared with.
  const credentialsSince = new Date();
  let api: calendar_v3.Calendar;
  try {
    api = await deps.clientFor({ id: calendarId, accountId: claimed.accountId, googleCalendarId: claimed.googleCalendarId });
  } catch (err) {
    if (err instanceof AccountReauthRequiredError) {
      // Parked: no Google call until the account is reconnected (which requests this sync again).
      return finish(deps, claimed, reason, 0, emptyResult(claimed, new SyncError('reauth_required', err.message)));
    }
    deps.log.error({ calendarId, err: { message: (err as Error).message } }, 'no Google client for the calendar account');
    // The account's credentials are read from MongoDB: a database that does not answer is a failure
    // to retry (requests kept), not a calendar an operator must look at (requests dropped).
    const code = isDatabaseUnavailable(err) ? 'internal' : 'credentials_unavailable';
    const error = new SyncError(code, (err as Error).message);
    return finish(deps, claimed, reason, 0, emptyResult(claimed, error));
  }

  const leaseMs = deps.sync.leaseSeconds * 1000;
  const leaseLost = new AbortController();
  const signal = AbortSignal.any([closing, leaseLost.signal]);
  const renew = async (): Promise<void> => {
    if (!(await deps.state.heartbeat(claimed, leaseMs, deps.now()))) {
      leaseLost.abort(new SyncError('lease_lost', 'lease taken over by another process'));
    }
  };
  // Checked between steps. The writes themselves are fenced on the lease (event epochs, token CAS),
  // so no database round trip is needed here: a stalled holder's late write is refused anyway.
  const checkpoint = async (): Promise<void> => {
    if (signal.aborted) throw signal.reason;
  };
  // Long backoff or quota waits and slow pages must not let the lease lapse.
  const heartbeat = setInterval(() => void renew().catch(() => undefined), Math.max(1000, Math.floor(leaseMs / 3)));
  heartbeat.unref();
  // The token and the pass's verdict are one write (see SyncStateRepository.succeed).
  let committed: { dueAgainAt: Date | null; record: PassRecord } | null = null;
  const commit = async (token: TokenCommit, passSoFar: PassResult): Promise<'committed' | 'stale'> => {
    const record = await passRecord(deps, claimed, Date.now() - started, passSoFar, 'ok');
    const next = await deps.state.succeed(claimed, token, record, { minIntervalMs: deps.sync.minIntervalMs, wasFull: passSoFar.mode === 'full' });
    if (next === 'stale') return 'stale';
    committed = { dueAgainAt: next, record };
    return 'committed';
  };
  let result: PassResult;
  try {
    result = await runPass({
      models: deps.models,
      calendarId,
      snapshot: claimed,
      fenceFilter: deps.state.fence(claimed),
      quota: deps.quota,
      api,
      sync: deps.sync,
      pageSize: deps.pageSize,
      now: deps.now,
      sleep: deps.sleep,
      random: deps.random,
      signal,
      fence: checkpoint,
      commit,
      log: deps.log,
      onPageStored: deps.onPageStored,
    });
  } finally {
    clearInterval(heartbeat);
  }
  const outcome = await finish(deps, claimed, reason, Date.now() - started, result, committed);
  if (result.error && isRevokedGrant(result.error) && deps.onReauthRequired) {
    await deps
      .onReauthRequired(claimed.accountId, `Google refused the refresh token during a sync (${result.error.message})`, credentialsSince)
      .catch((err: unknown) => deps.log.error({ accountId: claimed.accountId, err: { message: (err as Error).message } }, 'marking the account for reconnection failed'));
  }
  return outcome;
}

/** What the repository stores for a pass: counters, event count, last error. */
async function passRecord(deps: ClaimedSyncDeps, claimed: ClaimedSync, durationMs: number, result: PassResult, status: PassStatus): Promise<PassRecord> {
  const now = deps.now();
  const inc: Record<string, number> = {
    'counters.apiCalls': result.apiCalls,
    'counters.eventsChanged': result.eventsChanged,
  };
  if (status === 'ok') inc[`counters.${result.mode}`] = 1;
  else if (status === 'failed' || status === 'needs_attention') inc['counters.failed'] = 1;
  if (result.fallback) inc['counters.fallback'] = 1;
  const countable = status === 'ok' || status === 'failed' || status === 'needs_attention';
  const eventCount = countable ? await deps.models.Event.countDocuments({ calendarId: new Types.ObjectId(claimed.calendarId) }) : null;
  return {
    end: now,
    durationMs,
    inc,
    eventCount,
    lastError: result.error ? { code: result.error.code, message: result.error.message.slice(0, 500), at: now } : null,
  };
}

/** Records the pass through the repository's transitions (a successful one already is) and reports it. */
async function finish(
  deps: ClaimedSyncDeps,
  claimed: ClaimedSync,
  reason: string,
  durationMs: number,
  result: PassResult,
  committed: { dueAgainAt: Date | null; record: PassRecord } | null = null,
): Promise<ClaimedSyncResult> {
  const { calendarId } = claimed;
  const status = statusFor(result.error);
  const code = result.error?.code ?? null;
  const record = status === 'ok' && committed ? committed.record : await passRecord(deps, claimed, durationMs, result, status);
  const now = record.end;
  let dueAgainAt: Date | null = null;
  if (status === 'ok') {
    dueAgainAt = committed?.dueAgainAt ?? null;
  } else if (status === 'failed' || status === 'needs_attention') {
    const retryAt = new Date(now.getTime() + failureRetryDelay(deps.sync.retryAfterFailureMs, claimed.consecutiveFailures, deps.random));
    await deps.state.fail(claimed, record, { status, retryAt });
  } else if (status === 'aborted') {
    // Shutdown: whoever is still running may take it over at once; the requests stay.
    await deps.state.release(claimed, { until: now, inc: record.inc });
  } else {
    // The calendar's state now belongs to the new holder: only add what this pass cost.
    await deps.state.addCounters(calendarId, record.inc);
  }
  const eventCount = record.eventCount;

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
    durationMs: record.durationMs,
    eventCount,
    priority: claimed.priority,
    dueAt: claimed.dueAt,
    finishedAt: now,
  };
  const logFields = { ...outcome, googleCalendarId: claimed.googleCalendarId };
  if (status === 'ok') deps.log.info(logFields, 'sync pass finished');
  else deps.log.warn({ ...logFields, error: result.error?.message }, 'sync pass did not complete');
  try {
    deps.onSyncFinished?.(outcome);
  } catch (err) {
    deps.log.error({ err: { message: (err as Error).message } }, 'onSyncFinished hook threw');
  }
  return { kind: 'pass', outcome, dueAgainAt };
}

function emptyResult(claimed: ClaimedSync, error: SyncError): PassResult {
  return { mode: claimed.syncToken ? 'incremental' : 'full', fallback: false, tokenExpired: false, apiCalls: 0, retries: 0, eventsChanged: 0, error };
}
