// events.list: query validation, the item set a query sees (full or incremental, with or
// without expansion of series), and paging. No-loss guarantee: the first page snapshots the
// calendar's seq; every page serves only items with seq <= snapshot in a stable keyset order,
// and the nextSyncToken names that snapshot, so anything written while a client pages is
// either on a later page or in the next incremental sync.

import { randomInt } from 'node:crypto';
import { errors } from './errors.js';
import { etagFor } from './ids.js';
import type { Event } from './event-model.js';
import type { Calendar, Store, StoredEvent } from './store.js';
import { decodePageToken, encodePageToken, queryHash, type PageCursor, type SortKey } from './sync-tokens.js';
import { formatInZone, hasOffset, isValidTimeZone, parseDate, parseDateTime, rfc3339Millis } from './time.js';

export interface PagingSettings {
  /** Serve at most this many items per page whatever maxResults says (Google's short pages). */
  maxPageSize?: number;
  /** Probability of answering a page with no items but a nextPageToken (at most once per position). */
  emptyPageRate?: number;
}

/** Google's time limits on list state; undefined = no limit. */
export interface HistoryLimits {
  /** A sync token unused for longer than this answers 410 fullSyncRequired (Google: tokens expire). */
  syncTokenIdleMs?: number;
  /** updatedMin further back than this answers 410 updatedMinTooLongAgo (errors guide). */
  updatedMinMaxAgeMs?: number;
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { syncTokenIdleMs: 7 * 86_400_000, updatedMinMaxAgeMs: 28 * 86_400_000 };

export interface ListContext {
  paging: PagingSettings;
  limits: HistoryLimits;
  now: number;
}

export interface ListQuery {
  singleEvents: boolean;
  showDeleted?: boolean;
  timeMin?: number;
  timeMax?: number;
  updatedMin?: number;
  orderBy?: 'startTime' | 'updated';
  q?: string;
  iCalUID?: string;
  privateExtendedProperty: string[];
  sharedExtendedProperty: string[];
  maxResults: number;
  pageToken?: string;
  syncToken?: string;
  /** Zone the response's event times are rendered in (default: each event's own). */
  timeZone?: string;
  /** The query as given, minus paging, for page-token binding. */
  fingerprint: Record<string, unknown>;
}

type RawQuery = Record<string, string | string[] | undefined>;

const one = (raw: RawQuery, name: string): string | undefined => {
  const v = raw[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
};
const many = (raw: RawQuery, name: string): string[] => {
  const v = raw[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

function bool(raw: RawQuery, name: string): boolean | undefined {
  const v = one(raw, name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw errors.invalidParam(name);
}

function instant(raw: RawQuery, name: string, wholeSeconds = false): number | undefined {
  const v = one(raw, name);
  if (v === undefined) return undefined;
  // Google rejects timestamps without an offset for these parameters.
  const ms = hasOffset(v) ? parseDateTime(v) : undefined;
  if (ms === undefined) throw errors.invalidParam(name);
  // events.list reference, timeMin/timeMax: "Milliseconds may be provided but are ignored."
  return wholeSeconds ? Math.floor(ms / 1000) * 1000 : ms;
}

// The parameters Google refuses to combine with syncToken (DESIGN.md §2).
const NOT_WITH_SYNC_TOKEN = ['timeMin', 'timeMax', 'orderBy', 'q', 'updatedMin', 'iCalUID', 'privateExtendedProperty', 'sharedExtendedProperty'];

export function parseListQuery(raw: RawQuery): ListQuery {
  const maxRaw = one(raw, 'maxResults');
  let maxResults = 250;
  if (maxRaw !== undefined) {
    if (!/^-?\d+$/.test(maxRaw)) throw errors.invalidParam('maxResults');
    maxResults = Number(maxRaw);
    if (maxResults < 1 || maxResults > 2500) throw errors.outOfRange('maxResults', maxRaw, 1, 2500);
  }
  const orderBy = one(raw, 'orderBy');
  if (orderBy !== undefined && orderBy !== 'startTime' && orderBy !== 'updated') throw errors.invalidParam('orderBy');
  const q: ListQuery = {
    singleEvents: bool(raw, 'singleEvents') ?? false,
    showDeleted: bool(raw, 'showDeleted'),
    timeMin: instant(raw, 'timeMin', true),
    timeMax: instant(raw, 'timeMax', true),
    updatedMin: instant(raw, 'updatedMin'),
    orderBy,
    q: one(raw, 'q'),
    iCalUID: one(raw, 'iCalUID'),
    privateExtendedProperty: many(raw, 'privateExtendedProperty'),
    sharedExtendedProperty: many(raw, 'sharedExtendedProperty'),
    maxResults,
    pageToken: one(raw, 'pageToken'),
    syncToken: one(raw, 'syncToken'),
    timeZone: one(raw, 'timeZone'),
    fingerprint: {},
  };
  if (q.timeZone !== undefined && !isValidTimeZone(q.timeZone)) throw errors.invalidParam('timeZone');
  if (q.syncToken !== undefined) {
    for (const name of NOT_WITH_SYNC_TOKEN) {
      if (raw[name] !== undefined) {
        throw errors.invalidParam(name, `The syncToken parameter cannot be used together with ${name}.`);
      }
    }
    if (q.showDeleted === false) {
      throw errors.invalidParam('showDeleted', 'The syncToken parameter cannot be used with showDeleted=false: deletions are always included.');
    }
  }
  if (q.orderBy === 'startTime' && !q.singleEvents) {
    throw errors.badRequest('The requested ordering is not available for the particular query.');
  }
  if (q.timeMin !== undefined && q.timeMax !== undefined && q.timeMax <= q.timeMin) throw errors.timeRangeEmpty('timeMax');
  q.fingerprint = {
    singleEvents: q.singleEvents, showDeleted: q.showDeleted ?? null, timeMin: one(raw, 'timeMin') ?? null,
    timeMax: one(raw, 'timeMax') ?? null, updatedMin: one(raw, 'updatedMin') ?? null, orderBy: q.orderBy ?? null,
    q: q.q ?? null, iCalUID: q.iCalUID ?? null, priv: q.privateExtendedProperty, shared: q.sharedExtendedProperty,
    syncToken: q.syncToken ?? null,
  };
  return q;
}

// ---- the item set ------------------------------------------------------------------------

interface Item {
  id: string;
  seq: number;
  cancelled: boolean;
  updatedMs: number;
  spans: Array<[number, number]>;
  /** Fields q / iCalUID / extended-property filters look at (the series' for instances). */
  source: Event;
  /** A cancelled exception of a live series: listed with singleEvents=false even without
   *  showDeleted (events.list `showDeleted`), for the lifetime of the series (Event `status`). */
  exceptionOfLiveSeries?: boolean;
  /** The tombstone of a whole series (singleEvents=true views only). */
  seriesTombstone?: boolean;
  /** `details`: render a cancelled item with everything it had (see cancelledShape). */
  build: (details: boolean) => Event;
}

/** Deleted items are reduced to what Google guarantees: id, status, and the instance link.
 *  Event `status`: "On the organizer's calendar, cancelled events continue to expose event
 *  details … However, incremental sync requests with showDeleted set to false will not return
 *  these details", so the full resource is served instead when the list asked for showDeleted. */
function cancelledShape(r: Event): Event {
  const out: Event = { kind: 'calendar#event', etag: r.etag!, id: r.id!, status: 'cancelled' };
  if (r.recurringEventId) {
    out.recurringEventId = r.recurringEventId;
    out.originalStartTime = structuredClone(r.originalStartTime!);
  }
  return out;
}

function seriesSpans(s: StoredEvent): Array<[number, number]> {
  const duration = s.times.endUtc - s.times.startUtc;
  return s.series!.occurrences.map((o) => [o.utcMs, o.utcMs + duration] as [number, number]);
}

function storedItem(s: StoredEvent, cal: Calendar): Item {
  const cancelled = s.resource.status === 'cancelled';
  const master = s.masterId === undefined ? undefined : cal.events.get(s.masterId);
  return {
    id: s.resource.id!,
    seq: s.seq,
    cancelled,
    updatedMs: s.updatedMs,
    spans: s.series ? seriesSpans(s) : [[s.times.startUtc, s.times.endUtc]],
    source: s.resource,
    exceptionOfLiveSeries: cancelled && master !== undefined && master.resource.status !== 'cancelled',
    seriesTombstone: cancelled && s.series !== undefined,
    build: (details) => (cancelled && !details ? cancelledShape(s.resource) : structuredClone(s.resource)),
  };
}

function startOf(dt: Event['originalStartTime']): number {
  if (dt?.date) return parseDate(dt.date) ?? 0;
  return parseDateTime(dt?.dateTime ?? '') ?? 0;
}

function collect(store: Store, cal: Calendar, singleEvents: boolean): Item[] {
  const items: Item[] = [];
  for (const s of cal.events.values()) {
    if (!singleEvents || !s.series) {
      items.push(storedItem(s, cal));
      continue;
    }
    const masterCancelled = s.resource.status === 'cancelled';
    const current = new Set<string>();
    if (masterCancelled) {
      // The series' own tombstone, so clients keyed by series id see the deletion too.
      items.push(storedItem(s, cal));
    } else {
      // Instances are rendered lazily: a long series has thousands, a page needs a few.
      const duration = s.times.endUtc - s.times.startUtc;
      for (const occ of s.series.occurrences) {
        const id = store.instanceIdFor(s, occ);
        current.add(id);
        if (cal.events.has(id)) continue; // an exception stands in for it
        items.push({
          id, seq: s.seq, cancelled: false, updatedMs: s.updatedMs,
          spans: [[occ.utcMs, occ.utcMs + duration]], source: s.resource, build: () => store.instanceAt(cal, s, occ).resource,
        });
      }
    }
    // Instances that no longer exist (series deleted, or its rule/time changed) read as cancelled.
    for (const [id, originalStartTime] of s.series.known) {
      if (current.has(id) || cal.events.has(id)) continue;
      const t = startOf(originalStartTime);
      const tomb: Event = { etag: s.resource.etag!, id, recurringEventId: s.resource.id!, originalStartTime };
      items.push({
        id, seq: s.seq, cancelled: true, updatedMs: s.updatedMs, spans: [[t, t]], source: s.resource,
        build: () => cancelledShape(tomb),
      });
    }
  }
  return items;
}

function textMatches(ev: Event, needle: string): boolean {
  const hay = [ev.summary, ev.description, ev.location, ...(ev.attendees ?? []).flatMap((a) => [a.email, a.displayName])]
    .filter(Boolean).join('\n').toLowerCase();
  return needle.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

function extMatches(props: Record<string, string> | undefined | null, filters: string[]): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    return eq > 0 && props?.[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

interface Selection {
  q: Omit<ListQuery, 'fingerprint' | 'maxResults'>;
  afterSeq?: number;
  snapshot: number;
}

function select(store: Store, cal: Calendar, sel: Selection): Item[] {
  const { q } = sel;
  const incremental = sel.afterSeq !== undefined;
  // updatedMin: "entries deleted since this time will always be included regardless of showDeleted".
  const includeCancelled = incremental || q.showDeleted === true || q.updatedMin !== undefined;
  // showDeleted: "If showDeleted and singleEvents are both True, only single instances of
  // deleted events (but not the underlying recurring events) are returned." Incremental syncs
  // keep reporting the series id too (Google's behaviour there is undocumented; see docs).
  const dropSeriesTombstones = q.singleEvents && q.showDeleted === true && !incremental;
  return collect(store, cal, q.singleEvents).filter((it) => {
    if (it.seq > sel.snapshot) return false;
    if (incremental && it.seq <= sel.afterSeq!) return false;
    if (it.cancelled && !includeCancelled && !(it.exceptionOfLiveSeries && !q.singleEvents)) return false;
    if (it.seriesTombstone && dropSeriesTombstones) return false;
    if (q.updatedMin !== undefined && it.updatedMs < q.updatedMin) return false;
    if (q.timeMin !== undefined || q.timeMax !== undefined) {
      const hit = it.spans.some(([s, e]) => (q.timeMin === undefined || e > q.timeMin) && (q.timeMax === undefined || s < q.timeMax));
      if (!hit) return false;
    }
    if (q.q !== undefined && !textMatches(it.source, q.q)) return false;
    if (q.iCalUID !== undefined && it.source.iCalUID !== q.iCalUID) return false;
    if (!extMatches(it.source.extendedProperties?.private ?? undefined, q.privateExtendedProperty)) return false;
    if (!extMatches(it.source.extendedProperties?.shared ?? undefined, q.sharedExtendedProperty)) return false;
    return true;
  });
}

function sortKey(it: Item, orderBy: ListQuery['orderBy']): SortKey {
  if (orderBy === 'startTime') return [it.spans[0]?.[0] ?? 0, it.id];
  if (orderBy === 'updated') return [it.updatedMs, it.id];
  return [0, it.id];
}

function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

// ---- events.list ---------------------------------------------------------------------------

/** Re-renders an event's date-times in `timeZone` (events.list `timeZone`: "Time zone used in
 *  the response"). All-day dates have no zone and stay as they are. */
function inZone(ev: Event, timeZone: string): Event {
  for (const key of ['start', 'end', 'originalStartTime'] as const) {
    const dt = ev[key];
    const ms = dt?.dateTime ? parseDateTime(dt.dateTime) : undefined;
    if (dt && ms !== undefined) dt.dateTime = formatInZone(ms, timeZone);
  }
  return ev;
}

export function listEvents(store: Store, calendarId: string, q: ListQuery, ctx: ListContext): Record<string, unknown> {
  const { paging, limits } = ctx;
  const cal = store.calendar(calendarId);
  if (q.updatedMin !== undefined && limits.updatedMinMaxAgeMs !== undefined && q.updatedMin < ctx.now - limits.updatedMinMaxAgeMs) {
    throw errors.updatedMinTooLongAgo();
  }
  const hash = queryHash({ cal: cal.id, incarnation: cal.incarnation, ...q.fingerprint });
  let cursor: PageCursor | undefined;
  if (q.pageToken !== undefined) {
    cursor = decodePageToken(q.pageToken);
    if (!cursor || cursor.q !== hash) throw errors.invalidParam('pageToken', 'Invalid page token value.');
  }
  let afterSeq: number | undefined;
  if (q.syncToken !== undefined) {
    const point = cal.syncTokens.lookup(q.syncToken, ctx.now, limits.syncTokenIdleMs);
    if (!point) throw errors.fullSyncRequired();
    if (point.singleEvents !== q.singleEvents) {
      throw errors.invalidParam('singleEvents', 'The singleEvents parameter must have the value it had in the request that produced the syncToken.');
    }
    afterSeq = point.seq;
  }
  const snapshot = cursor?.s ?? cal.seq;
  const all = select(store, cal, { q, afterSeq, snapshot })
    .map((it) => ({ it, key: sortKey(it, q.orderBy) }))
    .sort((a, b) => compareKeys(a.key, b.key));
  const remaining = cursor?.k ? all.filter((x) => compareKeys(x.key, cursor!.k!) > 0) : all;
  const pageSize = Math.min(q.maxResults, paging.maxPageSize ?? Infinity);

  const body: Record<string, unknown> = {
    kind: 'calendar#events',
    etag: etagFor(latestUpdate(cal), cal.seq),
    summary: cal.summary,
    updated: rfc3339Millis(latestUpdate(cal)),
    timeZone: q.timeZone ?? cal.timeZone,
    accessRole: 'owner',
    defaultReminders: [],
  };

  const injectEmpty = remaining.length > 0 && cursor?.e !== 1 && (paging.emptyPageRate ?? 0) > 0
    && randomInt(1_000_000) < (paging.emptyPageRate ?? 0) * 1_000_000;
  if (injectEmpty) {
    body.nextPageToken = encodePageToken({ q: hash, s: snapshot, k: cursor?.k ?? null, e: 1 });
    body.items = [];
    return body;
  }
  const page = remaining.slice(0, pageSize);
  // Details of cancelled events: Event `status` (see cancelledShape).
  const details = q.showDeleted === true;
  body.items = page.map((x) => (q.timeZone === undefined ? x.it.build(details) : inZone(x.it.build(details), q.timeZone)));
  if (remaining.length > page.length) {
    body.nextPageToken = encodePageToken({ q: hash, s: snapshot, k: page[page.length - 1]!.key });
  } else if (q.orderBy !== 'startTime') {
    // Google does not return a sync token for orderBy=startTime queries (DESIGN.md §2).
    body.nextSyncToken = cal.syncTokens.issue({ seq: snapshot, singleEvents: q.singleEvents }, ctx.now);
  }
  return body;
}

function latestUpdate(cal: Calendar): number {
  let latest = cal.createdMs;
  for (const s of cal.events.values()) if (s.updatedMs > latest) latest = s.updatedMs;
  return latest;
}

/** Live state as a complete full list would return it (all pages, no deleted items). */
export function listAll(store: Store, calendarId: string, opts: { singleEvents?: boolean; timeMin?: string; timeMax?: string } = {}): Event[] {
  const raw: RawQuery = { singleEvents: String(opts.singleEvents ?? false), timeMin: opts.timeMin, timeMax: opts.timeMax };
  const q = parseListQuery(raw);
  const cal = store.calendar(calendarId);
  return select(store, cal, { q, snapshot: cal.seq })
    .sort((a, b) => compareKeys(sortKey(a, q.singleEvents ? 'startTime' : undefined), sortKey(b, q.singleEvents ? 'startTime' : undefined)))
    .map((it) => it.build(false));
}
