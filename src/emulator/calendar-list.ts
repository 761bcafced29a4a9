// calendarList.list as Google answers it: a full listing (deleted entries hidden) that ends with a
// nextSyncToken, and incremental listings that return every entry changed since the token,
// removals included as `deleted: true`. Tokens are bound to their user.

import type { calendar_v3 } from 'googleapis';
import { errors, GoogleApiError } from './errors.js';
import type { CalendarListEntry, User } from './identity.js';
import type { Store } from './store.js';

/** The pseudo calendar id calendarList channels are registered under (pings fan out by it). */
export const calendarListKey = (sub: string): string => `calendarList:${sub}`;

const encodeToken = (sub: string, seq: number): string => `CL${Buffer.from(JSON.stringify([sub, seq])).toString('base64')}`;

function decodeToken(token: string, sub: string): number {
  try {
    const [owner, seq] = JSON.parse(Buffer.from(token.slice(2), 'base64').toString()) as [unknown, unknown];
    if (token.startsWith('CL') && owner === sub && typeof seq === 'number') return seq;
  } catch {
    // falls through to the 410 below
  }
  throw new GoogleApiError(410, {
    domain: 'calendar', reason: 'fullSyncRequired', message: 'Sync token is no longer valid, a full sync is required.',
    locationType: 'parameter', location: 'syncToken',
  });
}

function render(store: Store, e: CalendarListEntry): calendar_v3.Schema$CalendarListEntry {
  if (e.deleted) return { kind: 'calendar#calendarListEntry', id: e.calendarId, deleted: true };
  const cal = store.calendar(e.calendarId);
  return {
    kind: 'calendar#calendarListEntry',
    etag: `"${e.seq}"`,
    id: cal.id,
    summary: cal.summary,
    timeZone: cal.timeZone,
    accessRole: e.accessRole,
    ...(e.primary ? { primary: true } : {}),
  };
}

export function listCalendarList(store: Store, user: User, q: Record<string, unknown>): calendar_v3.Schema$CalendarList {
  const syncToken = typeof q.syncToken === 'string' && q.syncToken !== '' ? q.syncToken : undefined;
  if (syncToken !== undefined && q.minAccessRole !== undefined) throw errors.badRequest('minAccessRole cannot be combined with syncToken.');
  const since = syncToken === undefined ? undefined : decodeToken(syncToken, user.sub);
  const showDeleted = since !== undefined || q.showDeleted === 'true';
  const items = [...user.entries.values()]
    .filter((e) => (since === undefined ? true : e.seq > since) && (showDeleted || !e.deleted))
    .sort((a, b) => a.seq - b.seq)
    .map((e) => render(store, e));
  // One page: a user's list is small; paging is not modelled (docs/emulator.md).
  return { kind: 'calendar#calendarList', etag: `"${user.seq}"`, items, nextSyncToken: encodeToken(user.sub, user.seq) };
}
