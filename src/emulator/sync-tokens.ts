// Sync tokens and page tokens. A sync token names a point in a calendar's change sequence (and
// the singleEvents value of the query that produced it); tokens live in a registry so that a
// never-issued or invalidated token is told apart from a valid one, as Google does (410).
// Page tokens are self-describing: they carry a hash of the query they belong to, the seq
// snapshot taken on the first page, and the last sort key served (keyset paging, so inserts
// and deletes between pages never shift items across page boundaries).

import { createHash } from 'node:crypto';
import { newSyncToken } from './ids.js';

export interface SyncPoint {
  seq: number;
  singleEvents: boolean;
}

export class SyncTokenRegistry {
  private readonly byToken = new Map<string, { point: SyncPoint; usedMs: number }>();
  private readonly byPoint = new Map<string, string>();

  /** Same point → same token, so repeated no-change syncs do not grow the registry. Issuing
   *  counts as use: a token handed out again is as fresh as a new one. */
  issue(point: SyncPoint, now = 0): string {
    const key = pointKey(point);
    let token = this.byPoint.get(key);
    if (!token) {
      token = newSyncToken();
      this.byPoint.set(key, token);
    }
    this.byToken.set(token, { point: { ...point }, usedMs: now });
    return token;
  }

  /** The point a token names, or undefined when it was never issued, was invalidated, or has
   *  not been used for longer than `maxIdleMs` (then it is forgotten: Google's tokens expire). */
  lookup(token: string, now = 0, maxIdleMs?: number): SyncPoint | undefined {
    const entry = this.byToken.get(token);
    if (!entry) return undefined;
    if (maxIdleMs !== undefined && now - entry.usedMs > maxIdleMs) {
      this.byToken.delete(token);
      this.byPoint.delete(pointKey(entry.point));
      return undefined;
    }
    entry.usedMs = now;
    return entry.point;
  }

  invalidateAll(): void {
    this.byToken.clear();
    this.byPoint.clear();
  }

  get size(): number {
    return this.byToken.size;
  }
}

const pointKey = (point: SyncPoint): string => `${point.seq}:${point.singleEvents}`;

export type SortKey = [number | string, string];

export interface PageCursor {
  /** Hash of the normalized query the token belongs to. */
  q: string;
  /** Calendar seq snapshot taken on the first page. */
  s: number;
  /** Last sort key served. */
  k: SortKey | null;
  /** Set when the emulator already served an injected empty page at this position. */
  e?: 1;
}

export function queryHash(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodePageToken(token: string): PageCursor | undefined {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as PageCursor;
    if (typeof c.q !== 'string' || typeof c.s !== 'number' || (c.k !== null && !Array.isArray(c.k))) return undefined;
    return c;
  } catch {
    return undefined;
  }
}
