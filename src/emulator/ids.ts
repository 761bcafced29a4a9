// Identifier and etag formats that look like Google's, because client code (and its tests)
// sometimes parses or validates them: event ids are base32hex, instance ids carry the
// original start, etags are quoted digit strings.

import { randomBytes, randomInt } from 'node:crypto';

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/** Google accepts client-chosen ids of 5–1024 base32hex characters. */
export const EVENT_ID = /^[a-v0-9]{5,1024}$/;

export function newEventId(): string {
  let id = '';
  for (const b of randomBytes(26)) id += BASE32HEX[b & 31];
  return id;
}

/** A quoted 16-digit string that changes on every write (seq is monotonic per calendar). */
export function etagFor(updatedMs: number, seq: number): string {
  return `"${updatedMs * 1000 + (seq % 1000)}"`;
}

/** Opaque channel resource id, stable per calendar (Google's identifies the watched resource). */
export function newResourceId(): string {
  return randomBytes(15).toString('base64url');
}

/** Sync tokens are opaque base64 like Google's ("CPDAlvWDx70CEPDAlvWDx70CGAU="), '+' and '/' included. */
export function newSyncToken(): string {
  return `C${randomBytes(20).toString('base64')}`;
}

export function newAccessToken(): string {
  return `ya29.emu-${randomBytes(24).toString('base64url')}`;
}

/** Message numbers increase but skip, as Google's do, so clients cannot rely on contiguity. */
export function nextMessageNumber(previous: number): number {
  return previous + randomInt(2, 100);
}

/** "<eventId>_<suffix>" → parts, or undefined when the id does not have the instance shape. */
export function splitInstanceId(id: string): { baseId: string; suffix: string } | undefined {
  const m = /^(.+)_(\d{8}(?:T\d{6}Z)?)$/.exec(id);
  return m ? { baseId: m[1]!, suffix: m[2]! } : undefined;
}

export function htmlLink(calendarId: string, eventId: string): string {
  const eid = Buffer.from(`${eventId} ${calendarId}`).toString('base64url');
  return `https://www.google.com/calendar/event?eid=${eid}`;
}
