import type { CalendarModel } from '../models/calendar.js';

/**
 * One sync per calendar across processes and replicas. The lease is a field of the calendar
 * document taken with a single atomic findOneAndUpdate that also reclaims an expired lease (a
 * crashed holder). Requests that find the lease taken leave `dirty` set; the holder checks it
 * atomically when it lets go and runs one more pass if needed, so no request is ever lost and any
 * number of them cost at most one extra pass.
 */

/** What the holder learns from the calendar at the moment it took (or kept) the lease. */
export interface LeaseSnapshot {
  accountId: string;
  googleCalendarId: string;
  incrementalEnabled: boolean | null;
  syncToken: string | null;
  syncTokenVersion: number;
  syncTokenSingleEvents: boolean | null;
  /** A full sync was asked for (consumed by taking the lease; restored if the pass fails). */
  pendingFullSync: boolean;
  /** When the previous successful pass ended (paces syncs of a busy calendar). */
  lastSyncedAt: Date | null;
}

const SNAPSHOT_FIELDS = '+syncToken accountId googleCalendarId incrementalEnabled syncTokenVersion syncTokenSingleEvents pendingFullSync lastSyncedAt';

type Raw = {
  accountId?: unknown;
  googleCalendarId?: string | null;
  incrementalEnabled?: boolean | null;
  syncToken?: string | null;
  syncTokenVersion?: number | null;
  syncTokenSingleEvents?: boolean | null;
  pendingFullSync?: boolean | null;
  lastSyncedAt?: Date | null;
};

function snapshot(doc: Raw): LeaseSnapshot {
  return {
    accountId: String(doc.accountId),
    googleCalendarId: doc.googleCalendarId ?? '',
    incrementalEnabled: doc.incrementalEnabled ?? null,
    syncToken: doc.syncToken ?? null,
    syncTokenVersion: doc.syncTokenVersion ?? 0,
    syncTokenSingleEvents: doc.syncTokenSingleEvents ?? null,
    pendingFullSync: doc.pendingFullSync ?? false,
    lastSyncedAt: doc.lastSyncedAt ?? null,
  };
}

export interface LeaseOptions {
  owner: string;
  leaseMs: number;
  now: Date;
}

/** Records a request: the holder (or whoever takes the lease next) will sync. */
/** Starting a pass consumes the requests recorded so far: this pass covers them. */
const startPass = (opts: LeaseOptions) => ({ state: 'syncing', syncStartedAt: opts.now, dirty: false, pendingFullSync: false });

export async function markDirty(Calendar: CalendarModel, calendarId: string, full: boolean): Promise<boolean> {
  const res = await Calendar.updateOne({ _id: calendarId }, { $set: full ? { dirty: true, pendingFullSync: true } : { dirty: true } });
  return res.matchedCount === 1;
}

/**
 * Takes the lease if it is free or expired. Consumes `dirty` and `pendingFullSync` in the same
 * write; the returned snapshot is the document as it was just before, so nothing is missed.
 * Calendars needing attention are skipped unless `includeNeedsAttention`.
 */
export async function acquireLease(
  Calendar: CalendarModel,
  calendarId: string,
  opts: LeaseOptions & { includeNeedsAttention?: boolean },
): Promise<LeaseSnapshot | null> {
  const filter: Record<string, unknown> = {
    _id: calendarId,
    $or: [{ lease: null }, { 'lease.expiresAt': { $lte: opts.now } }],
  };
  if (!opts.includeNeedsAttention) filter.state = { $ne: 'needs_attention' };
  const before = await Calendar.findOneAndUpdate(
    filter,
    { $set: { lease: { owner: opts.owner, expiresAt: new Date(opts.now.getTime() + opts.leaseMs) }, ...startPass(opts) } },
    { returnDocument: 'before', projection: SNAPSHOT_FIELDS },
  ).lean<Raw>();
  return before ? snapshot(before) : null;
}

/** Extends the lease (heartbeat, and a fence before every write). False: the lease is lost. */
export async function renewLease(Calendar: CalendarModel, calendarId: string, opts: LeaseOptions): Promise<boolean> {
  const res = await Calendar.updateOne(
    { _id: calendarId, 'lease.owner': opts.owner },
    { $set: { 'lease.expiresAt': new Date(opts.now.getTime() + opts.leaseMs) } },
  );
  return res.matchedCount === 1;
}

/**
 * Lets go of the lease unless a request arrived meanwhile (`dirty`). Returns 'released',
 * 'dirty' (still held: run another pass, see `continueLease`) or 'lost'.
 */
export async function releaseLease(
  Calendar: CalendarModel,
  calendarId: string,
  owner: string,
  set: Record<string, unknown>,
  opts: { ignoreDirty?: boolean } = {},
): Promise<'released' | 'dirty' | 'lost'> {
  const filter: Record<string, unknown> = { _id: calendarId, 'lease.owner': owner };
  if (!opts.ignoreDirty) filter.dirty = { $ne: true };
  const res = await Calendar.updateOne(filter, { $set: { ...set, lease: null } });
  if (res.matchedCount === 1) return 'released';
  const held = await Calendar.exists({ _id: calendarId, 'lease.owner': owner });
  return held ? 'dirty' : 'lost';
}

/** The holder starts another pass: consumes `dirty`/`pendingFullSync` like `acquireLease`. */
export async function continueLease(Calendar: CalendarModel, calendarId: string, opts: LeaseOptions): Promise<LeaseSnapshot | null> {
  const before = await Calendar.findOneAndUpdate(
    { _id: calendarId, 'lease.owner': opts.owner },
    { $set: { 'lease.expiresAt': new Date(opts.now.getTime() + opts.leaseMs), ...startPass(opts) } },
    { returnDocument: 'before', projection: SNAPSHOT_FIELDS },
  ).lean<Raw>();
  return before ? snapshot(before) : null;
}

/**
 * Right before a pass lists changes, the requests recorded so far are covered by it: clear `dirty`
 * so they do not cause one more (empty) pass. A pending full-sync request is left for the holder
 * to see when it lets go.
 */
export async function absorbRequests(Calendar: CalendarModel, calendarId: string, owner: string): Promise<void> {
  await Calendar.updateOne({ _id: calendarId, 'lease.owner': owner, pendingFullSync: { $ne: true } }, { $set: { dirty: false } });
}
