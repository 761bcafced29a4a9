// RFC 5545 recurrence expansion for the subset calsync's tests need: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY
// with INTERVAL, COUNT, UNTIL, WKST, BYDAY (DAILY/WEEKLY only) and EXDATE. Anything else is
// rejected with 400 rather than silently mis-expanded, so a test never passes on a wrong series.
// Expansion runs on wall-clock time in the series' zone, as Google does, so a 10:00 weekly
// meeting stays at 10:00 local across DST.

import { DAY_MS, zonedToUtc } from './time.js';

export class RecurrenceError extends Error {}

type Freq = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';

interface Rule {
  freq: Freq;
  interval: number;
  count?: number;
  untilUtc?: number;
  untilLocal?: number;
  byDay?: number[]; // 0 = Sunday
  wkst: number;
}

export interface SeriesStart {
  allDay: boolean;
  /** Wall-clock start expressed as if it were UTC (all-day: midnight of the date). */
  localMs: number;
  timeZone: string;
}

export interface ParsedRecurrence {
  rules: Rule[];
  exInstantsUtc: Set<number>;
  exDatesLocal: Set<number>;
}

export interface Occurrence {
  localMs: number;
  utcMs: number;
}

const DAYS: Record<string, number> = { SU: 0, MO: 1, TU: 2, WE: 3, TH: 4, FR: 5, SA: 6 };
const SUPPORTED = new Set(['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'WKST']);

const BASIC = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/;

interface BasicTime {
  local: number;
  utc?: number;
  dateOnly: boolean;
}

function parseBasic(value: string, tz?: string): BasicTime {
  const m = BASIC.exec(value.trim());
  if (!m) throw new RecurrenceError(`Invalid date-time '${value}' in recurrence.`);
  const [, y, mo, d, h, mi, s, z] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  if (h === undefined) return { local, dateOnly: true };
  if (z) return { local, utc: local, dateOnly: false };
  return { local, utc: tz ? zonedToUtc(local, tz) : undefined, dateOnly: false };
}

function parseRule(body: string): Rule {
  const parts = new Map<string, string>();
  for (const kv of body.split(';')) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) throw new RecurrenceError('Invalid recurrence rule.');
    const key = k.toUpperCase();
    if (!SUPPORTED.has(key)) throw new RecurrenceError(`Recurrence rule part ${key} is not supported by the emulator.`);
    parts.set(key, v.toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (freq !== 'DAILY' && freq !== 'WEEKLY' && freq !== 'MONTHLY' && freq !== 'YEARLY') {
    throw new RecurrenceError(`Recurrence frequency ${freq ?? '(missing)'} is not supported by the emulator.`);
  }
  const interval = Number(parts.get('INTERVAL') ?? '1');
  if (!Number.isInteger(interval) || interval < 1) throw new RecurrenceError('Invalid recurrence rule.');
  const rule: Rule = { freq, interval, wkst: DAYS.MO! };
  if (parts.has('COUNT')) {
    const count = Number(parts.get('COUNT'));
    if (!Number.isInteger(count) || count < 1) throw new RecurrenceError('Invalid recurrence rule.');
    rule.count = count;
  }
  if (parts.has('UNTIL')) {
    if (rule.count !== undefined) throw new RecurrenceError('Invalid recurrence rule.');
    const until = parseBasic(parts.get('UNTIL')!);
    if (until.utc !== undefined) rule.untilUtc = until.utc;
    // A date-only UNTIL includes the whole day.
    else rule.untilLocal = until.dateOnly ? until.local + DAY_MS - 1 : until.local;
  }
  if (parts.has('WKST')) {
    const w = DAYS[parts.get('WKST')!];
    if (w === undefined) throw new RecurrenceError('Invalid recurrence rule.');
    rule.wkst = w;
  }
  if (parts.has('BYDAY')) {
    if (freq !== 'DAILY' && freq !== 'WEEKLY') {
      throw new RecurrenceError(`BYDAY with FREQ=${freq} is not supported by the emulator.`);
    }
    rule.byDay = parts.get('BYDAY')!.split(',').map((d) => {
      const n = DAYS[d];
      // Ordinal forms like "2TU" only make sense for MONTHLY/YEARLY, which we do not expand.
      if (n === undefined) throw new RecurrenceError(`Invalid BYDAY value '${d}'.`);
      return n;
    });
  }
  return rule;
}

export function parseRecurrence(lines: string[], start: SeriesStart): ParsedRecurrence {
  const parsed: ParsedRecurrence = { rules: [], exInstantsUtc: new Set(), exDatesLocal: new Set() };
  for (const raw of lines) {
    const line = raw.trim();
    const colon = line.indexOf(':');
    if (colon < 0) throw new RecurrenceError('Invalid recurrence rule.');
    const [name, ...params] = line.slice(0, colon).split(';');
    const value = line.slice(colon + 1);
    switch (name?.toUpperCase()) {
      case 'RRULE':
        parsed.rules.push(parseRule(value));
        break;
      case 'EXDATE': {
        const tzParam = params.find((p) => p.toUpperCase().startsWith('TZID='));
        const tz = tzParam ? tzParam.slice(5) : start.timeZone;
        for (const v of value.split(',')) {
          const t = parseBasic(v, tz);
          if (t.dateOnly) parsed.exDatesLocal.add(t.local);
          else if (start.allDay) parsed.exDatesLocal.add(t.local - (t.local % DAY_MS));
          else parsed.exInstantsUtc.add(t.utc!);
        }
        break;
      }
      default:
        throw new RecurrenceError(`Recurrence line ${name ?? ''} is not supported by the emulator.`);
    }
  }
  if (parsed.rules.length === 0) throw new RecurrenceError('Invalid recurrence rule.');
  return parsed;
}

const weekday = (localMs: number) => new Date(localMs).getUTCDay();

/** Candidate wall-clock starts of one rule, in order, without COUNT/UNTIL applied. */
function* candidates(rule: Rule, dt: number): Generator<number> {
  const timeOfDay = dt % DAY_MS;
  const d0 = new Date(dt);
  switch (rule.freq) {
    case 'DAILY':
      for (let k = 0; ; k++) {
        const c = dt + k * rule.interval * DAY_MS;
        if (!rule.byDay || rule.byDay.includes(weekday(c))) yield c;
      }
    case 'WEEKLY': {
      const byDay = rule.byDay ?? [weekday(dt)];
      const weekStart = dt - ((weekday(dt) - rule.wkst + 7) % 7) * DAY_MS;
      for (let w = 0; ; w++) {
        const base = weekStart + w * rule.interval * 7 * DAY_MS;
        for (let d = 0; d < 7; d++) {
          const c = base + d * DAY_MS;
          if (c >= dt && byDay.includes(weekday(c))) yield c;
        }
      }
    }
    case 'MONTHLY':
      for (let k = 0; ; k++) {
        const y = d0.getUTCFullYear();
        const m = d0.getUTCMonth() + k * rule.interval;
        const c = Date.UTC(y, m, d0.getUTCDate()) + timeOfDay;
        // RFC 5545: a month without that day (e.g. the 31st) has no occurrence.
        if (new Date(c).getUTCDate() === d0.getUTCDate()) yield c;
      }
    case 'YEARLY':
      for (let k = 0; ; k++) {
        const c = Date.UTC(d0.getUTCFullYear() + k * rule.interval, d0.getUTCMonth(), d0.getUTCDate()) + timeOfDay;
        if (new Date(c).getUTCMonth() === d0.getUTCMonth()) yield c;
      }
  }
}

/**
 * Occurrences with utcMs < horizonUtc, at most maxInstances. The first occurrence is always
 * DTSTART itself (Google treats the event's start as the first instance).
 */
export function expand(parsed: ParsedRecurrence, start: SeriesStart, horizonUtc: number, maxInstances: number): Occurrence[] {
  const toUtc = (local: number) => zonedToUtc(local, start.timeZone);
  const byLocal = new Map<number, Occurrence>();
  for (const rule of parsed.rules) {
    let emitted = 0;
    for (const local of candidates(rule, start.localMs)) {
      const utc = toUtc(local);
      if (rule.untilUtc !== undefined && utc > rule.untilUtc) break;
      if (rule.untilLocal !== undefined && local > rule.untilLocal) break;
      if (utc >= horizonUtc || byLocal.size >= maxInstances) break;
      byLocal.set(local, { localMs: local, utcMs: utc });
      emitted++;
      if (rule.count !== undefined && emitted >= rule.count) break;
    }
  }
  // The series start is an instance even when the rule would not generate it (RFC 5545 3.8.5.3).
  if (!byLocal.has(start.localMs)) byLocal.set(start.localMs, { localMs: start.localMs, utcMs: toUtc(start.localMs) });
  return [...byLocal.values()]
    .filter((o) => !parsed.exInstantsUtc.has(o.utcMs) && !parsed.exDatesLocal.has(o.localMs - (o.localMs % DAY_MS)))
    .sort((a, b) => a.utcMs - b.utcMs)
    .slice(0, maxInstances);
}
