import type { calendar_v3 } from 'googleapis';
import { toGoogleApiError } from './google-errors.js';

/** Google's maximum page size; fewer round trips for both full and incremental syncs. */
export const MAX_PAGE_SIZE = 2500;

export interface ListEventsParams {
  /** When set: an incremental sync. Nothing else that narrows the query may accompany it. */
  syncToken?: string | null;
  /** Full sync window; ignored when a sync token is given. */
  timeMin?: Date;
  timeMax?: Date;
  /** Must equal the value of the full sync that produced the token. */
  singleEvents: boolean;
  maxResults?: number;
}

export interface EventsPage {
  items: calendar_v3.Schema$Event[];
  /** 1-based. */
  pageNumber: number;
  isFullSync: boolean;
}

export interface ListEventsResult {
  /** Present on the last page only; null if Google did not send one. */
  nextSyncToken: string | null;
  isFullSync: boolean;
  totalEvents: number;
  apiCalls: number;
  pages: number;
}

export interface ListEventsOptions {
  /** Wraps every HTTP request (e.g. with retries); the page request is repeated as is. */
  call?: <T>(request: () => Promise<T>) => Promise<T>;
  /** Called for every HTTP request actually sent, retries included (quota accounting). */
  onApiCall?: () => void;
  signal?: AbortSignal;
}

/**
 * Lists events page by page and hands each page to `onPage` before fetching the next, so memory
 * holds one page at a time and a caller can store pages as they arrive. Shape adapted from the
 * seed's `list_events_incremental`, minus its flaws: no `orderBy` (it can suppress the token),
 * nothing but the token (+ the same `singleEvents`/`maxResults`) on incremental calls, and no
 * silent fallback here: a dead token surfaces as a `GoogleApiError` of kind `dead_token` and the
 * engine decides.
 */
export async function listEventsIncremental(
  api: calendar_v3.Calendar,
  calendarId: string,
  params: ListEventsParams,
  onPage: (page: EventsPage) => Promise<void>,
  opts: ListEventsOptions = {},
): Promise<ListEventsResult> {
  const isFullSync = !params.syncToken;
  const base: calendar_v3.Params$Resource$Events$List = isFullSync
    ? {
        calendarId,
        timeMin: params.timeMin?.toISOString(),
        timeMax: params.timeMax?.toISOString(),
        singleEvents: params.singleEvents,
        maxResults: params.maxResults ?? MAX_PAGE_SIZE,
      }
    : {
        calendarId,
        syncToken: params.syncToken ?? undefined,
        singleEvents: params.singleEvents,
        maxResults: params.maxResults ?? MAX_PAGE_SIZE,
      };
  const call = opts.call ?? (<T>(request: () => Promise<T>) => request());
  let apiCalls = 0;
  let totalEvents = 0;
  let pageToken: string | undefined;
  let pageNumber = 0;
  for (;;) {
    const query = pageToken ? { ...base, pageToken } : base;
    const res = await call(async () => {
      apiCalls++;
      opts.onApiCall?.();
      try {
        return await api.events.list(query, { retry: false, signal: opts.signal });
      } catch (err) {
        throw toGoogleApiError(err, { syncTokenInUse: !isFullSync });
      }
    });
    const items = res.data.items ?? [];
    pageNumber++;
    totalEvents += items.length;
    await onPage({ items, pageNumber, isFullSync });
    pageToken = res.data.nextPageToken ?? undefined;
    if (!pageToken) {
      return { nextSyncToken: res.data.nextSyncToken ?? null, isFullSync, totalEvents, apiCalls, pages: pageNumber };
    }
  }
}
