import type { CalendarModel } from '../models/calendar.js';

/**
 * Sync-token persistence. The token is the checkpoint of the mirror, so it is only ever written
 * with a compare-and-set on `syncTokenVersion`: a sync that read version v may write only while
 * the version is still v. A slower, older sync therefore can never overwrite a newer token.
 */

export interface StoredSyncToken {
  token: string | null;
  version: number;
  /** `singleEvents` of the query that produced the token (incremental calls must repeat it). */
  singleEvents: boolean | null;
}

/** The seed's `has_valid_sync_token`: present and not blank (validity proper is Google's call). */
export function hasValidSyncToken(token: string | null | undefined): token is string {
  return typeof token === 'string' && token.trim().length > 0;
}

export async function readSyncToken(Calendar: CalendarModel, calendarId: string): Promise<StoredSyncToken | null> {
  const doc = await Calendar.findById(calendarId, { syncToken: 1, syncTokenVersion: 1, syncTokenSingleEvents: 1 })
    .select('+syncToken')
    .lean();
  if (!doc) return null;
  return { token: doc.syncToken ?? null, version: doc.syncTokenVersion ?? 0, singleEvents: doc.syncTokenSingleEvents ?? null };
}

export type TokenWriteResult = 'updated' | 'empty' | 'stale';

export interface UpdateSyncTokenOptions {
  /** The version read when the sync started. */
  expectedVersion: number;
  singleEvents: boolean;
  /** Other fields to set in the same atomic write (e.g. lastSyncedAt), so they never disagree with the token. */
  alsoSet?: Record<string, unknown>;
  /** Extra filter conditions (the sync lease): a writer that lost its lease cannot store a token. */
  fence?: Record<string, unknown>;
}

/**
 * Stores a new token if the stored version is still `expectedVersion`.
 * 'empty': a blank token is refused (the old one is kept). 'stale': someone wrote a newer token first.
 */
export async function updateSyncToken(
  Calendar: CalendarModel,
  calendarId: string,
  token: string | null | undefined,
  opts: UpdateSyncTokenOptions,
): Promise<TokenWriteResult> {
  if (!hasValidSyncToken(token)) return 'empty';
  const updated = await Calendar.findOneAndUpdate(
    { ...opts.fence, _id: calendarId, syncTokenVersion: opts.expectedVersion },
    {
      $set: { ...opts.alsoSet, syncToken: token.trim(), syncTokenSingleEvents: opts.singleEvents },
      $inc: { syncTokenVersion: 1 },
    },
    { returnDocument: 'after', projection: { _id: 1 } },
  ).lean();
  return updated ? 'updated' : 'stale';
}

/**
 * Forgets the token so the next sync is a full one. With `expectedVersion`, only the token that
 * was found dead is cleared, never a newer one another sync stored meanwhile.
 * Returns the new version, or null when the CAS lost.
 */
export async function clearSyncToken(
  Calendar: CalendarModel,
  calendarId: string,
  opts: { expectedVersion?: number; fence?: Record<string, unknown> } = {},
): Promise<number | null> {
  const filter: Record<string, unknown> = { ...opts.fence, _id: calendarId };
  if (opts.expectedVersion !== undefined) filter.syncTokenVersion = opts.expectedVersion;
  const updated = await Calendar.findOneAndUpdate(
    filter,
    { $set: { syncToken: null, syncTokenSingleEvents: null }, $inc: { syncTokenVersion: 1 } },
    { returnDocument: 'after', projection: { syncTokenVersion: 1 } },
  ).lean();
  return updated ? (updated.syncTokenVersion ?? 0) : null;
}
