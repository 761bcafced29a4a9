import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Connection } from 'mongoose';
import { changePositionModel, type ChangePositionModel } from './change-model.js';

/**
 * Total order across concurrent writers without a global lock.
 *
 * One counter document hands out blocks of positions: a writer reads it and moves `seq` forward by
 * the size of its page with a compare-and-set on the old `seq`, recording the block as pending in
 * the same atomic write. It then inserts its records and removes the pending entry (commit).
 * Readers never go past the first pending block (`visibleUpTo`), so a record with a lower position
 * can never appear after a reader has moved beyond it — the gap a plain counter leaves when a
 * writer that took 5 commits after one that took 6.
 *
 * A writer that dies between reserve and commit would block readers forever, so a block expires
 * (`RESERVATION_MS`); the reader that finds it expired removes it (atomically, so either the writer
 * commits or the reaper removes, never both). A writer that finds its block already removed at
 * commit moves its records to a fresh block (`renumber`), so they are never hidden behind a reader.
 */

export const RESERVATION_MS = 60_000;
const FEED = 'feed';

export interface Reservation {
  token: string;
  from: number;
}

/** Wakes long-polling readers and delivery workers of this process when a block commits. */
const signals = new WeakMap<Connection, EventEmitter>();
export function appendSignal(conn: Connection): EventEmitter {
  let e = signals.get(conn);
  if (!e) {
    e = new EventEmitter();
    e.setMaxListeners(0);
    signals.set(conn, e);
  }
  return e;
}

export class FeedPositions {
  private readonly Position: ChangePositionModel;

  constructor(private readonly conn: Connection) {
    this.Position = changePositionModel(conn);
  }

  async reserve(n: number, now: Date): Promise<Reservation> {
    const token = randomBytes(8).toString('hex');
    for (let attempt = 0; ; attempt++) {
      const doc = await this.current();
      const from = doc.seq + 1;
      const res = await this.Position.updateOne(
        { _id: FEED, seq: doc.seq },
        { $set: { seq: doc.seq + n, [`pending.${token}`]: { from, until: new Date(now.getTime() + RESERVATION_MS) } } },
      );
      if (res.matchedCount === 1) return { token, from };
      // Another writer moved the counter first: read it again (a short random pause spreads racers).
      if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
    }
  }

  /** True when the block was still ours (its records are now visible); false when it had expired. */
  async commit(r: Reservation): Promise<boolean> {
    const res = await this.Position.updateOne({ _id: FEED, [`pending.${r.token}`]: { $exists: true } }, { $unset: { [`pending.${r.token}`]: '' } });
    if (res.matchedCount === 1) appendSignal(this.conn).emit('appended');
    return res.matchedCount === 1;
  }

  /** The highest position below which every record is written. Expired blocks are reaped on the way. */
  async visibleUpTo(now: Date): Promise<number> {
    const doc = await this.current();
    let visible = doc.seq;
    const pending = (doc.pending ?? {}) as Record<string, { from: number; until: Date }>;
    for (const [token, block] of Object.entries(pending)) {
      if (new Date(block.until).getTime() <= now.getTime()) {
        const reaped = await this.Position.updateOne({ _id: FEED, [`pending.${token}.until`]: block.until }, { $unset: { [`pending.${token}`]: '' } });
        if (reaped.matchedCount === 1) continue;
      }
      visible = Math.min(visible, block.from - 1);
    }
    return visible;
  }

  private async current(): Promise<{ seq: number; pending?: unknown }> {
    const doc = await this.Position.findById(FEED).lean();
    if (doc) return doc;
    await this.Position.updateOne({ _id: FEED }, { $setOnInsert: { seq: 0, pending: {} } }, { upsert: true }).catch((err: { code?: number }) => {
      if (err.code !== 11000) throw err;
    });
    return (await this.Position.findById(FEED).lean())!;
  }
}
