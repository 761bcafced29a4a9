// Time-zone arithmetic on top of Intl, so recurring series keep their wall-clock time across
// DST changes the way Google expands them (in the event's start.timeZone).

export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timeZone` from UTC at instant `utcMs`, in ms (positive east of Greenwich). */
export function offsetMs(timeZone: string, utcMs: number): number {
  // Fast path: Intl.formatToParts is slow and most calendars (and all tests' defaults) are UTC.
  if (UTC_ZONES.has(timeZone)) return 0;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** Wall-clock time (expressed as if it were UTC) → real UTC instant in `timeZone`. */
export function zonedToUtc(localMs: number, timeZone: string): number {
  const guess = localMs - offsetMs(timeZone, localMs);
  return localMs - offsetMs(timeZone, guess);
}

export function utcToZoned(utcMs: number, timeZone: string): number {
  return utcMs + offsetMs(timeZone, utcMs);
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

/** RFC 3339 without fractional seconds, in the zone's offset ("Z" when the offset is 0), as Google renders event times. */
export function formatInZone(utcMs: number, timeZone: string): string {
  const off = offsetMs(timeZone, utcMs);
  const local = new Date(utcMs + off).toISOString().slice(0, 19);
  if (off === 0) return `${local}Z`;
  const mins = Math.round(Math.abs(off) / 60_000);
  return `${local}${off < 0 ? '-' : '+'}${pad(Math.floor(mins / 60))}:${pad(mins % 60)}`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Parses an RFC 3339 date-time. Without an offset the value is wall-clock time in `timeZone`;
 * returns undefined when it is malformed or needs a zone it was not given.
 */
export function parseDateTime(value: string, timeZone?: string): number | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, off] = m;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (Number.isNaN(local)) return undefined;
  if (!off) return timeZone ? zonedToUtc(local, timeZone) : undefined;
  if (off === 'Z' || off === 'z') return local;
  const sign = off.startsWith('-') ? -1 : 1;
  const offMin = Number(off.slice(1, 3)) * 60 + Number(off.slice(4, 6));
  return local - sign * offMin * 60_000;
}

/** True when the string carries an explicit offset (Google requires one for timeMin/timeMax/updatedMin). */
export function hasOffset(value: string): boolean {
  const m = RFC3339.exec(value);
  return Boolean(m && m[8]);
}

/** "YYYY-MM-DD" → UTC midnight of that date (all-day events are laid on the calendar's zone by the caller). */
export function parseDate(value: string): number | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(ms) ? undefined : ms;
}

export function formatDate(localMidnightMs: number): string {
  return new Date(localMidnightMs).toISOString().slice(0, 10);
}

/** "20240105T100000Z" (UTC), the suffix Google uses for instance ids of timed series. */
export function compactUtc(utcMs: number): string {
  return new Date(utcMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** "20240105", the suffix Google uses for instance ids of all-day series. */
export function compactDate(localMidnightMs: number): string {
  return formatDate(localMidnightMs).replace(/-/g, '');
}

/** RFC 1123 date, the format of the X-Goog-Channel-Expiration header. */
export function rfc1123(ms: number): string {
  return new Date(ms).toUTCString();
}

export function rfc3339Millis(ms: number): string {
  return new Date(ms).toISOString();
}
