import { Types, type Connection } from 'mongoose';
import { changeModel, type ChangeModel } from './change-model.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import { appendSignal, FeedPositions, RESERVATION_MS } from './positions.js';

/** A change as readers see it (pull API and webhook bodies alike). */
export interface FeedChange {
  cursor: string;
  calendarId: string;
  googleEventId: string;
  type: 'created' | 'updated' | 'deleted';
  etag: string;
  seenAt: string;
  event?: Record<string, unknown>;
  changed?: Record<string, unknown>;
}

export interface FeedPage {
  changes: FeedChange[];
  nextCursor: string;
}

export class CursorExpiredError extends Error {
  readonly code = 'CURSOR_EXPIRED';
  readonly statusCode = 410;
  constructor() {
    super('changes after this cursor are past retention; start again without `after` and re-read the mirror');
    this.name = 'CursorExpiredError';
  }
}

export interface ReadOptions {
  /** Position after which to read (0: the oldest retained record). */
  after: number;
  limit: number;
  calendarId?: string;
  /** Only positions up to here (the caller already knows what is visible). */
  upTo?: number;
}

type Row = { seq: number; calendarId: Types.ObjectId; googleEventId: string; type: FeedChange['type']; etag: string; seenAt: Date; event?: unknown; changed?: unknown };

export function toFeedChange(r: Row): FeedChange {
  const c: FeedChange = {
    cursor: encodeCursor({ seq: r.seq, at: r.seenAt.getTime() }),
    calendarId: r.calendarId.toHexString(),
    googleEventId: r.googleEventId,
    type: r.type,
    etag: r.etag,
    seenAt: r.seenAt.toISOString(),
  };
  if (r.event) c.event = r.event as Record<string, unknown>;
  if (r.changed) c.changed = r.changed as Record<string, unknown>;
  return c;
}

/** Reads the change log in position order (src/changes/positions.ts explains why it is total). */
export class ChangeFeed {
  readonly Change: ChangeModel;
  readonly positions: FeedPositions;

  constructor(
    private readonly conn: Connection,
    private readonly opts: { retentionMs: number; now?: () => Date; pollMs?: number },
  ) {
    this.Change = changeModel(conn);
    this.positions = new FeedPositions(conn);
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Raw records after `after` that every writer has finished; sorted by position. */
  async records(o: ReadOptions): Promise<Row[]> {
    const upTo = o.upTo ?? (await this.positions.visibleUpTo(this.now()));
    if (upTo <= o.after) return [];
    const calendarId = o.calendarId ? new Types.ObjectId(o.calendarId) : undefined;
    // SecantusDB reads every record of an index range before applying `limit` (docs/database.md),
    // so one query over (after, upTo] costs the whole backlog behind a lagging reader on every
    // read, and slows the writers sharing the server. Positions are nearly dense, so windows of
    // `limit` positions mostly fill at once; a window that does not fill doubles the next one, so
    // gaps (retention, another calendar's records) cost a few queries, not one per `limit`.
    const rows: Row[] = [];
    let from = o.after;
    for (let width = Math.max(1, o.limit); rows.length < o.limit && from < upTo; width *= 2) {
      const to = Math.min(upTo, from + width);
      rows.push(...(await this.window(from, to, o.limit - rows.length, calendarId)));
      from = to;
    }
    return rows;
  }

  private window(after: number, upTo: number, limit: number, calendarId?: Types.ObjectId): Promise<Row[]> {
    // Equality then range on an index's fields, nothing else (SecantusDB scans otherwise).
    const filter: Record<string, unknown> = { seq: { $gt: after, $lte: upTo } };
    if (calendarId) filter.calendarId = calendarId;
    return this.Change.find(filter, { _id: 0 }).sort({ seq: 1 }).limit(limit).lean<Row[]>();
  }

  /** Decodes `after` and refuses a cursor whose following records may have expired. */
  resolve(after: string | undefined): Cursor {
    if (after === undefined || after === '') return { seq: 0, at: this.now().getTime() };
    const c = decodeCursor(after);
    // Records just after the cursor may be up to a reservation older than the one at it.
    if (c.at - RESERVATION_MS < this.now().getTime() - this.opts.retentionMs) throw new CursorExpiredError();
    return c;
  }

  /** One page of the feed; with `waitMs`, waits for a change (long poll) when there is none yet. */
  async read(q: { after?: string; limit: number; calendarId?: string; waitMs?: number; signal?: AbortSignal }): Promise<FeedPage> {
    const from = this.resolve(q.after);
    const deadline = Date.now() + (q.waitMs ?? 0);
    for (;;) {
      const upTo = await this.positions.visibleUpTo(this.now());
      const rows = await this.records({ after: from.seq, limit: q.limit, calendarId: q.calendarId, upTo });
      if (rows.length > 0) {
        const changes = rows.map(toFeedChange);
        return { changes, nextCursor: changes[changes.length - 1]!.cursor };
      }
      if (Date.now() >= deadline || q.signal?.aborted) {
        // Nothing new up to `upTo`: the next read may start there. Later records are at most a
        // reservation older than now, which the cursor's time accounts for.
        const at = Math.max(from.at, this.now().getTime() - RESERVATION_MS);
        return { changes: [], nextCursor: encodeCursor({ seq: Math.max(from.seq, upTo), at }) };
      }
      await this.appended(Math.min(deadline - Date.now(), this.opts.pollMs ?? 500), q.signal);
    }
  }

  /** Resolves when this process commits records, after `ms` (other replicas' records), or on abort. */
  appended(ms: number, signal?: AbortSignal): Promise<void> {
    const signals = appendSignal(this.conn);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signals.off('appended', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signals.on('appended', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
