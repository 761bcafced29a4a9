import type { calendar_v3 } from 'googleapis';
import { Types } from 'mongoose';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { Models } from '../models/index.js';
import { GoogleApiError } from '../google/google-errors.js';
import { listEventsIncremental, type ListEventsResult } from '../google/list-events.js';
import { withRetries, type Sleep } from './backoff.js';
import { FencedWriteError, removeAbsent, storePage } from './mirror-writer.js';
import type { SyncErrorCode } from './outcome.js';
import { clearSyncToken, hasValidSyncToken } from './token-store.js';
import type { ClaimedSync } from './sync-state.js';
import type { QuotaGate } from '../quota/quota-gate.js';
import { PRIORITY, type Priority } from './priority.js';
import type { SyncMode } from './types.js';

/** A failure with a stable code; everything a pass throws ends up as one of these. */
export class SyncError extends Error {
  readonly code: SyncErrorCode;
  constructor(code: SyncErrorCode, message: string = code, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncError';
    this.code = code;
  }
}

export interface PageStoredInfo {
  calendarId: string;
  mode: SyncMode;
  pageNumber: number;
  items: number;
}

export interface PassContext {
  models: Models;
  calendarId: string;
  snapshot: ClaimedSync;
  /** Added to every token write's filter: only the lease holder's write can match. */
  fenceFilter: Record<string, unknown>;
  quota: QuotaGate;
  api: calendar_v3.Calendar;
  sync: Config['sync'];
  pageSize: number;
  now: () => Date;
  sleep: Sleep;
  random: () => number;
  signal: AbortSignal;
  /** Throws when the pass must stop: shutdown, or the heartbeat found the lease taken over. */
  fence: () => Promise<void>;
  /**
   * Stores the new token (compare-and-set on its version, fenced on the lease) together with the
   * pass's verdict, in one write. 'stale': the lease or the token moved on; nothing was written.
   */
  commit: (token: TokenCommit, result: PassResult) => Promise<'committed' | 'stale'>;
  log: Logger;
  onPageStored?: (info: PageStoredInfo) => Promise<void> | void;
}

export interface TokenCommit {
  token: string;
  expectedVersion: number;
  singleEvents: boolean;
  /** Fields stored with the token (lastSyncedAt, lastFullSyncAt). */
  alsoSet: Record<string, unknown>;
}

export interface PassResult {
  mode: SyncMode;
  fallback: boolean;
  tokenExpired: boolean;
  apiCalls: number;
  retries: number;
  eventsChanged: number;
  error: SyncError | null;
}

const DAY_MS = 86_400_000;

/** Decides incremental vs full: the token must exist, be switched on, and match today's query. */
export function chooseMode(snap: Pick<ClaimedSync, 'incrementalEnabled' | 'syncToken' | 'syncTokenSingleEvents' | 'pendingFullSync'>, sync: Config['sync']): SyncMode {
  const incrementalOn = snap.incrementalEnabled ?? sync.incrementalEnabled;
  const tokenUsable = hasValidSyncToken(snap.syncToken) && snap.syncTokenSingleEvents === sync.singleEvents;
  return !snap.pendingFullSync && incrementalOn && tokenUsable ? 'incremental' : 'full';
}

function toSyncError(err: unknown, signal: AbortSignal): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof FencedWriteError) return new SyncError('lease_lost', err.message);
  if (signal.aborted) return signal.reason instanceof SyncError ? signal.reason : new SyncError('aborted');
  if (err instanceof GoogleApiError) {
    const code: SyncErrorCode = err.kind === 'dead_token' ? 'bad_request' : err.kind;
    return new SyncError(code, err.message, { cause: err });
  }
  return new SyncError('internal', err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * One sync pass over a calendar whose lease this process holds. Never throws: the result says
 * what happened. Order of writes (the zero-data-loss argument): pages are stored as they arrive,
 * then (full sync) absent events are removed, and only then does the token advance, by CAS, in the
 * same write as the pass's verdict.
 * A crash anywhere before the CAS leaves the old token, and replaying from it is idempotent.
 */
export async function runPass(ctx: PassContext): Promise<PassResult> {
  const { models, snapshot: snap, sync } = ctx;
  const calendarOid = new Types.ObjectId(ctx.calendarId);
  const result: PassResult = { mode: chooseMode(snap, sync), fallback: false, tokenExpired: false, apiCalls: 0, retries: 0, eventsChanged: 0, error: null };
  let version = snap.syncTokenVersion;

  // A 410 recovery runs at recovery priority at least (a safety-net pass that finds a dead token
  // is no longer background work).
  let priority: Priority = snap.priority;
  const listOptions = {
    signal: ctx.signal,
    onApiCall: () => void result.apiCalls++,
    call: <T>(request: () => Promise<T>) =>
      withRetries(async () => {
        await ctx.quota.acquire(snap.accountId, priority, ctx.signal);
        return request();
      }, {
        policy: { maxRetries: sync.maxRetries, baseMs: sync.backoffBaseMs, maxMs: sync.backoffMaxMs },
        shouldRetry: (err) => ({
          retry: err instanceof GoogleApiError && (err.kind === 'rate_limited' || err.kind === 'transient'),
          retryAfterMs: err instanceof GoogleApiError ? err.retryAfterMs : null,
        }),
        sleep: ctx.sleep,
        random: ctx.random,
        signal: ctx.signal,
        onRetry: ({ err, retry, delayMs }) => {
          result.retries++;
          const e = err as GoogleApiError;
          // Every calendar of this account waits too, on every replica, instead of each hitting Google.
          if (e.kind === 'rate_limited') void ctx.quota.throttled(snap.accountId, delayMs).catch(() => undefined);
          ctx.log.warn({ calendarId: ctx.calendarId, kind: e.kind, status: e.status, reason: e.reason, retry, delayMs }, 'google call failed, backing off');
        },
      }),
  };

  const storeAndReport = (mode: SyncMode, fullSyncRunId?: string) => async (page: { items: calendar_v3.Schema$Event[]; pageNumber: number }) => {
    await ctx.fence();
    const stored = await storePage(models.Event, calendarOid, page.items, { now: ctx.now(), fullSyncRunId, epoch: snap.held.epoch });
    result.eventsChanged += stored.upserted + stored.removed;
    await ctx.onPageStored?.({ calendarId: ctx.calendarId, mode, pageNumber: page.pageNumber, items: page.items.length });
  };

  const commitToken = async (listed: ListEventsResult, alsoSet: Record<string, unknown>): Promise<void> => {
    if (!hasValidSyncToken(listed.nextSyncToken)) throw new SyncError('missing_sync_token', 'Google returned no nextSyncToken');
    await ctx.fence();
    const written = await ctx.commit({ token: listed.nextSyncToken, expectedVersion: version, singleEvents: sync.singleEvents, alsoSet }, result);
    if (written === 'stale') throw new SyncError('lease_lost', 'a newer sync token was stored by another sync');
  };

  try {
    if (result.mode === 'incremental') {
      try {
        const listed = await listEventsIncremental(
          ctx.api,
          snap.googleCalendarId,
          { syncToken: snap.syncToken, singleEvents: snap.syncTokenSingleEvents ?? sync.singleEvents, maxResults: ctx.pageSize },
          storeAndReport('incremental'),
          listOptions,
        );
        await commitToken(listed, { lastSyncedAt: ctx.now() });
        return result;
      } catch (err) {
        if (!(err instanceof GoogleApiError) || err.kind !== 'dead_token') throw err;
        // Google's advice is "wipe and full-sync"; the full sync below reconciles by absence instead.
        result.fallback = true;
        result.tokenExpired = err.status === 410;
        result.mode = 'full';
        ctx.log.warn({ calendarId: ctx.calendarId, status: err.status, reason: err.reason }, 'sync token rejected, falling back to full sync');
        await ctx.fence();
        priority = Math.min(priority, PRIORITY.recovery) as Priority;
        const cleared = await clearSyncToken(models.Calendar, ctx.calendarId, { expectedVersion: version, fence: ctx.fenceFilter });
        if (cleared === null) throw new SyncError('lease_lost', 'the sync token changed under this sync');
        version = cleared;
      }
    }

    const runId = new Types.ObjectId().toHexString();
    const startedAt = ctx.now();
    const listed = await listEventsIncremental(
      ctx.api,
      snap.googleCalendarId,
      {
        timeMin: new Date(startedAt.getTime() - sync.windowPastDays * DAY_MS),
        timeMax: new Date(startedAt.getTime() + sync.windowFutureDays * DAY_MS),
        singleEvents: sync.singleEvents,
        maxResults: ctx.pageSize,
      },
      storeAndReport('full', runId),
      listOptions,
    );
    await ctx.fence();
    result.eventsChanged += await removeAbsent(models.Event, calendarOid, runId, snap.held.epoch);
    const finishedAt = ctx.now();
    await commitToken(listed, { lastSyncedAt: finishedAt, lastFullSyncAt: finishedAt });
    return result;
  } catch (err) {
    result.error = toSyncError(err, ctx.signal);
    return result;
  }
}
