import { Types, type Connection } from 'mongoose';
import { channelModel, type ChannelModel } from '../channels/channel-model.js';
import { calendarModel, DELIVERY_MODES, SYNC_STATES, type CalendarModel, type CalendarRecord } from '../models/calendar.js';
import { eventModel, type EventModel } from '../models/event.js';
import { lastListPosition } from '../models/list-position.js';

/** The sync state an operator sees. Never the sync token itself, only whether there is one. */
export interface CalendarState {
  id: string;
  accountId: string;
  googleCalendarId: string;
  mode: string;
  modeReason: string | null;
  state: string;
  incrementalEnabled: boolean | null;
  hasSyncToken: boolean;
  lastSyncedAt: Date | null;
  lastFullSyncAt: Date | null;
  lastSyncDurationMs: number | null;
  eventCount: number;
  lastError: { code: string | null; message: string | null; at: Date | null } | null;
  channel: { id: string; status: string; expiration: Date | null; lastPingAt: Date | null } | null;
}

export interface MirroredEvent {
  id: string;
  status: string | null;
  summary: string | null;
  start: unknown;
  end: unknown;
  updated: Date | null;
  recurringEventId: string | null;
  etag: string | null;
  /** The Google resource as last received. */
  data: unknown;
}

export interface EventsPage {
  events: MirroredEvent[];
  nextCursor: string | null;
}

export interface CalendarsPage {
  calendars: CalendarState[];
  nextCursor: string | null;
}

export interface CalendarsQuery {
  limit: number;
  cursor?: string | undefined;
  /** Only calendars in this sync state. */
  state?: string | undefined;
}

export interface FleetStatus {
  calendars: { total: number; byState: Record<string, number>; byMode: Record<string, number> };
  channels: {
    pending: number;
    active: number;
    superseded: number;
    /** Superseded channels whose channels.stop failed at least once (retried every renewal pass). */
    supersededAwaitingStopRetry: number;
    /** Active channels past their expiration: their calendar is not getting pings. */
    expired: number;
    /** Active channels inside the renewal lead (the next renewal pass replaces them). */
    dueForRenewal: number;
    nextExpiration: Date | null;
    pushCalendarsWithoutChannel: number;
  };
}

type CalendarLean = CalendarRecord & { _id: Types.ObjectId };
const want = (query: CalendarsQuery) => query.limit + 1;

export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursorError';
  }
}

/** Opaque to clients; the last item's _id (v1) or, for calendar lists, its list position (v2). */
const encodeCursor = (id: Types.ObjectId): string => Buffer.from(`v1:${id.toHexString()}`).toString('base64url');
const encodeListCursor = (listSeq: number): string => Buffer.from(`v2:${listSeq}`).toString('base64url');
function decodeCursor(cursor: string): Types.ObjectId {
  const m = /^v1:([0-9a-f]{24})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m?.[1]) throw new InvalidCursorError();
  return new Types.ObjectId(m[1]);
}
/** A calendar list cursor: v2 (a list position), or v1 (a calendar _id) as issued before positions existed. */
function decodeListCursor(cursor: string): { listSeq: number } | { id: Types.ObjectId } {
  const m = /^v2:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (m?.[1]) return { listSeq: Number(m[1]) };
  return { id: decodeCursor(cursor) };
}

/** Read models for the admin API: per-calendar state, the mirror, and the fleet summary. */
export class CalendarViews {
  private readonly Calendar: CalendarModel;
  private readonly Event: EventModel;
  private readonly Channel: ChannelModel;

  constructor(
    private readonly conn: Connection,
    private readonly opts: { renewLeadSeconds: number; now?: () => number },
  ) {
    this.Calendar = calendarModel(conn);
    this.Event = eventModel(conn);
    this.Channel = channelModel(conn);
  }

  /**
   * One page of calendars in list-position (registration) order, optionally in one sync state.
   * Read as bounded windows of positions on the { listSeq } or { state, listSeq } index: a window of
   * W positions holds at most W calendars, so a page costs about the same on the first page or the
   * last, with 10 or 100,000 calendars, even on planners that read every index match before applying
   * a limit. Windows widen over gaps and sparse states (at most 4× per step), so a rare state needs
   * a few more, still bounded, reads. The fleet is never read whole.
   */
  async page(query: CalendarsQuery): Promise<CalendarsPage> {
    let after = 0;
    if (query.cursor) {
      const cursor = decodeListCursor(query.cursor);
      if ('id' in cursor) {
        // A cursor from before list positions: continue after that calendar's position.
        const from = await this.Calendar.findById(cursor.id).select({ listSeq: 1 }).lean();
        if (from?.listSeq == null) return this.pageById(query, cursor.id);
        after = from.listSeq;
      } else after = cursor.listSeq;
    }
    const end = await lastListPosition(this.conn);
    const want = query.limit + 1;
    const found: CalendarLean[] = [];
    let width = want;
    for (let from = after; found.length < want && from < end; ) {
      const to = Math.min(from + width, end);
      const filter: Record<string, unknown> = { listSeq: { $gt: from, $lte: to } };
      if (query.state) filter.state = query.state;
      found.push(...(await this.Calendar.find(filter).select('+syncToken').sort({ listSeq: 1 }).lean()));
      const density = found.length / (to - after);
      const missing = want - found.length;
      width = Math.min(width * 4, density > 0 ? Math.ceil((missing / density) * 1.25) + 1 : width * 4);
      from = to;
    }
    const page = found.slice(0, query.limit);
    const last = page[page.length - 1];
    return { calendars: await this.toStates(page), nextCursor: found.length > query.limit && last?.listSeq != null ? encodeListCursor(last.listSeq) : null };
  }

  /** The old _id-ordered pager, for a v1 cursor whose calendar has since been removed. */
  private async pageById(query: CalendarsQuery, afterId: Types.ObjectId): Promise<CalendarsPage> {
    const filter: Record<string, unknown> = { _id: { $gt: afterId } };
    if (query.state) filter.state = query.state;
    const docs = await this.Calendar.find(filter).select('+syncToken').sort({ _id: 1 }).limit(want(query)).lean();
    const page = docs.slice(0, query.limit);
    const last = page[page.length - 1];
    return { calendars: await this.toStates(page), nextCursor: docs.length > query.limit && last ? encodeCursor(last._id) : null };
  }

  async get(calendarId: string): Promise<CalendarState | null> {
    if (!Types.ObjectId.isValid(calendarId)) return null;
    const calendar = await this.Calendar.findById(calendarId).select('+syncToken').lean();
    if (!calendar) return null;
    const [state] = await this.toStates([calendar]);
    return state ?? null;
  }

  async events(calendarId: string, limit: number, cursor?: string): Promise<EventsPage> {
    const filter: Record<string, unknown> = { calendarId: new Types.ObjectId(calendarId) };
    if (cursor) filter._id = { $gt: decodeCursor(cursor) };
    const docs = await this.Event.find(filter).sort({ _id: 1 }).limit(limit + 1).lean();
    const page = docs.slice(0, limit);
    const last = page[page.length - 1];
    return {
      events: page.map((e) => ({
        id: e.googleEventId,
        status: e.status ?? null,
        summary: e.summary ?? null,
        start: e.start ?? null,
        end: e.end ?? null,
        updated: e.updated ?? null,
        recurringEventId: e.recurringEventId ?? null,
        etag: e.etag ?? null,
        data: e.data,
      })),
      nextCursor: docs.length > limit && last ? encodeCursor(last._id) : null,
    };
  }

  async fleet(): Promise<FleetStatus> {
    const now = (this.opts.now ?? Date.now)();
    const byState = Object.fromEntries(SYNC_STATES.map((s) => [s, 0])) as Record<string, number>;
    const byMode = Object.fromEntries(DELIVERY_MODES.map((m) => [m, 0])) as Record<string, number>;
    const rows = await this.Calendar.aggregate<{ _id: { state: string; mode: string }; n: number }>([
      { $group: { _id: { state: '$state', mode: '$mode' }, n: { $sum: 1 } } },
    ]);
    let total = 0;
    for (const r of rows) {
      total += r.n;
      byState[r._id.state] = (byState[r._id.state] ?? 0) + r.n;
      byMode[r._id.mode] = (byMode[r._id.mode] ?? 0) + r.n;
    }
    // Counts only, each an indexed filter or a $group: memory does not grow with the fleet.
    const renewBefore = new Date(now + this.opts.renewLeadSeconds * 1000);
    const nowDate = new Date(now);
    const count = (filter: Record<string, unknown>) => this.Channel.countDocuments(filter);
    const [pending, active, superseded, stopRetries, expired, dueForRenewal, next, pushCalendars, covered] = await Promise.all([
      count({ status: 'pending' }),
      count({ status: 'active' }),
      count({ status: 'superseded' }),
      count({ status: 'superseded', stopAttempts: { $gt: 0 } }),
      count({ status: 'active', expiration: { $lte: nowDate } }),
      count({ status: 'active', expiration: { $gt: nowDate, $lte: renewBefore } }),
      this.Channel.findOne({ status: 'active', expiration: { $gt: nowDate } }).sort({ expiration: 1 }).select({ expiration: 1 }).lean(),
      // Retired calendars (left their calendar list) have no channel on purpose.
      this.Calendar.countDocuments({ mode: 'push', state: { $ne: 'retired' } }),
      // Push calendars with a live channel: a polled or removed calendar's channels are retired when
      // it changes, so calendars with live channels are push calendars.
      this.Channel.aggregate<{ n: number }>([
        // calendarList channels (discovery) belong to an account, not a calendar.
        { $match: { status: { $in: ['active', 'pending'] }, calendarId: { $ne: null } } },
        { $group: { _id: '$calendarId' } },
        { $group: { _id: null, n: { $sum: 1 } } },
      ]),
    ]);
    return {
      calendars: { total, byState, byMode },
      channels: {
        pending,
        active,
        superseded,
        supersededAwaitingStopRetry: stopRetries,
        expired,
        dueForRenewal,
        nextExpiration: next?.expiration ?? null,
        pushCalendarsWithoutChannel: Math.max(0, pushCalendars - (covered[0]?.n ?? 0)),
      },
    };
  }

  private async toStates(calendars: CalendarLean[]): Promise<CalendarState[]> {
    if (calendars.length === 0) return [];
    const ids = calendars.map((c) => c._id);
    const counts = await this.Event.aggregate<{ _id: Types.ObjectId; n: number }>([
      { $match: { calendarId: { $in: ids } } },
      { $group: { _id: '$calendarId', n: { $sum: 1 } } },
    ]);
    const countOf = new Map(counts.map((c) => [String(c._id), c.n]));
    const channels = await this.Channel.find({ calendarId: { $in: ids }, status: { $in: ['active', 'pending'] } })
      .sort({ status: 1, createdAt: -1 })
      .lean();
    const channelOf = new Map<string, (typeof channels)[number]>();
    // Active sorts before pending: an active channel wins over one still being opened.
    for (const ch of channels) if (!channelOf.has(String(ch.calendarId))) channelOf.set(String(ch.calendarId), ch);
    return calendars.map((c) => {
      const ch = channelOf.get(String(c._id));
      return {
        id: c._id.toHexString(),
        accountId: c.accountId.toHexString(),
        googleCalendarId: c.googleCalendarId,
        mode: c.mode,
        modeReason: c.modeReason ?? null,
        state: c.state,
        incrementalEnabled: c.incrementalEnabled ?? null,
        hasSyncToken: typeof c.syncToken === 'string' && c.syncToken.length > 0,
        lastSyncedAt: c.lastSyncedAt ?? null,
        lastFullSyncAt: c.lastFullSyncAt ?? null,
        lastSyncDurationMs: c.lastSyncDurationMs ?? null,
        eventCount: countOf.get(String(c._id)) ?? 0,
        lastError: c.lastError ? { code: c.lastError.code ?? null, message: c.lastError.message ?? null, at: c.lastError.at ?? null } : null,
        channel: ch ? { id: ch._id, status: ch.status, expiration: ch.expiration ?? null, lastPingAt: ch.lastPingAt ?? null } : null,
      };
    });
  }
}
