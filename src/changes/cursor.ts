/**
 * An opaque cursor: a feed position and the time of the record at it. The time lets a reader learn
 * that records after its position may have expired (410 CURSOR_EXPIRED) even when the position
 * itself says nothing about age.
 */
export interface Cursor {
  seq: number;
  /** ms epoch: the `seenAt` of the record at `seq` (or when an empty read was answered). */
  at: number;
}

export class CursorError extends Error {
  readonly code = 'BAD_CURSOR';
  readonly statusCode = 400;
  constructor() {
    super('after is not a cursor this feed issued');
    this.name = 'CursorError';
  }
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`1.${c.seq}.${c.at}`, 'utf8').toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  const m = /^1\.(\d{1,15})\.(\d{1,15})$/.exec(Buffer.from(s, 'base64url').toString('utf8'));
  if (!m) throw new CursorError();
  return { seq: Number(m[1]), at: Number(m[2]) };
}
