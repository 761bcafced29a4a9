// Validation and rendering of an event's times, the part of an event the emulator must
// understand (everything else is stored and echoed as given). Errors mirror Google's 400s.

import type { calendar_v3 } from 'googleapis';
import { GoogleApiError, errors } from './errors.js';
import { RecurrenceError, expand, parseRecurrence, type Occurrence, type ParsedRecurrence } from './recurrence.js';
import { DAY_MS, formatDate, formatInZone, parseDate, parseDateTime, utcToZoned, zonedToUtc, isValidTimeZone } from './time.js';

export type Event = calendar_v3.Schema$Event;
export type EventDateTime = calendar_v3.Schema$EventDateTime;

export interface Times {
  allDay: boolean;
  startUtc: number;
  endUtc: number;
  /** Wall-clock start in `timeZone` (all-day: midnight of the date). */
  startLocal: number;
  endLocal: number;
  /** Zone times are rendered and series expanded in. */
  timeZone: string;
}

/** Open-ended series are expanded this far past the later of their start and their creation. */
export const SERIES_HORIZON_MS = 730 * DAY_MS;
/** Hard cap on instances per series, so a DAILY rule cannot blow up memory or list latency. */
export const MAX_INSTANCES = 2000;

function which(label: 'start' | 'end', dt: EventDateTime | undefined | null): 'date' | 'dateTime' {
  if (!dt || (dt.date == null && dt.dateTime == null)) throw errors.required(`Missing ${label} time.`);
  if (dt.date != null && dt.dateTime != null) throw errors.invalid(`Invalid ${label} time.`);
  return dt.date != null ? 'date' : 'dateTime';
}

function parseOne(label: 'start' | 'end', dt: EventDateTime, calendarTz: string, recurring: boolean) {
  if (dt.timeZone != null && !isValidTimeZone(dt.timeZone)) {
    throw errors.invalid(`Invalid time zone definition for ${label} time.`);
  }
  if (dt.date != null) {
    const local = parseDate(dt.date);
    if (local === undefined) throw errors.invalid(`Invalid ${label} time.`);
    return { utc: zonedToUtc(local, calendarTz), local, tz: calendarTz };
  }
  // Google requires a zone on recurring timed events: the rule is expanded in wall-clock time.
  if (recurring && dt.timeZone == null) throw errors.required(`Missing time zone definition for ${label} time.`);
  const utc = parseDateTime(dt.dateTime!, dt.timeZone ?? undefined);
  if (utc === undefined) {
    throw parseDateTime(dt.dateTime!, 'UTC') === undefined
      ? errors.invalid(`Invalid ${label} time.`)
      : errors.required(`Missing time zone definition for ${label} time.`);
  }
  const tz = dt.timeZone ?? calendarTz;
  return { utc, local: utcToZoned(utc, tz), tz };
}

export interface Validated {
  times: Times;
  start: EventDateTime;
  end: EventDateTime;
  recurrence?: { parsed: ParsedRecurrence; lines: string[] };
}

/** Validates start/end/recurrence of a complete event body; returns them normalized like Google renders them. */
export function validateTimes(ev: Event, calendarTz: string): Validated {
  const kindStart = which('start', ev.start);
  const kindEnd = which('end', ev.end);
  if (kindStart !== kindEnd) throw errors.invalid('Start and end times must either both be date or both be dateTime.');
  const lines = ev.recurrence ?? undefined;
  const recurring = Array.isArray(lines) && lines.length > 0;
  const s = parseOne('start', ev.start!, calendarTz, recurring);
  const e = parseOne('end', ev.end!, calendarTz, recurring);
  const allDay = kindStart === 'date';
  if (allDay ? e.local <= s.local : e.utc < s.utc) throw new GoogleApiError(400, {
    domain: 'calendar', reason: 'timeRangeEmpty', message: 'The specified time range is empty.',
  });
  const times: Times = { allDay, startUtc: s.utc, endUtc: e.utc, startLocal: s.local, endLocal: e.local, timeZone: s.tz };
  const validated: Validated = {
    times,
    start: render(ev.start!, s.utc, allDay, s.tz),
    end: render(ev.end!, e.utc, allDay, e.tz),
  };
  if (recurring) {
    try {
      validated.recurrence = {
        lines: [...lines],
        parsed: parseRecurrence(lines, { allDay, localMs: s.local, timeZone: s.tz }),
      };
    } catch (err) {
      if (err instanceof RecurrenceError) throw errors.invalid(err.message);
      throw err;
    }
  }
  return validated;
}

function render(given: EventDateTime, utc: number, allDay: boolean, tz: string): EventDateTime {
  if (allDay) return given.timeZone ? { date: given.date!, timeZone: given.timeZone } : { date: given.date! };
  const out: EventDateTime = { dateTime: formatInZone(utc, tz) };
  if (given.timeZone) out.timeZone = given.timeZone;
  return out;
}

export function seriesOccurrences(v: { times: Times; parsed: ParsedRecurrence }, createdMs: number): Occurrence[] {
  const horizon = Math.max(v.times.startUtc, createdMs) + SERIES_HORIZON_MS;
  return expand(v.parsed, { allDay: v.times.allDay, localMs: v.times.startLocal, timeZone: v.times.timeZone }, horizon, MAX_INSTANCES);
}

/** Start/end of one occurrence of a series, rendered in the series zone. */
export function occurrenceTimes(series: Times, occ: Occurrence, givenTz: string | null | undefined) {
  const duration = series.endUtc - series.startUtc;
  if (series.allDay) {
    const endLocal = occ.localMs + (series.endLocal - series.startLocal);
    const times: Times = { ...series, startUtc: occ.utcMs, endUtc: zonedToUtc(endLocal, series.timeZone), startLocal: occ.localMs, endLocal };
    return { times, start: { date: formatDate(occ.localMs) }, end: { date: formatDate(endLocal) } };
  }
  const endUtc = occ.utcMs + duration;
  const times: Times = { ...series, startUtc: occ.utcMs, endUtc, startLocal: occ.localMs, endLocal: utcToZoned(endUtc, series.timeZone) };
  const withTz = (dt: EventDateTime): EventDateTime => (givenTz ? { ...dt, timeZone: givenTz } : dt);
  return {
    times,
    start: withTz({ dateTime: formatInZone(occ.utcMs, series.timeZone) }),
    end: withTz({ dateTime: formatInZone(occ.utcMs + duration, series.timeZone) }),
  };
}
