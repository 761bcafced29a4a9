// Calendars and their events, plus the per-calendar change sequence that sync tokens and page
// snapshots are built on: every write stamps the written event with ++calendar.seq, so "what
// changed since token T" is exactly "every stored item with seq > T.seq", deletions included
// (deleted events stay as cancelled tombstones, as on Google).

import { randomBytes } from 'node:crypto';
import { errors } from './errors.js';
import {
  occurrenceTimes, seriesOccurrences, validateTimes,
  type Event, type EventDateTime, type Times, type Validated,
} from './event-model.js';
import { EVENT_ID, etagFor, htmlLink, newEventId, newResourceId, splitInstanceId } from './ids.js';
import type { Occurrence, ParsedRecurrence } from './recurrence.js';
import { SyncTokenRegistry } from './sync-tokens.js';
import { compactDate, compactUtc, rfc3339Millis } from './time.js';

export interface Series {
  parsed: ParsedRecurrence;
  occurrences: Occurrence[];
  /** Every instance id this series has ever had → its originalStartTime, so an incremental
   *  singleEvents sync can report instances that a rule change made disappear. */
  known: Map<string, EventDateTime>;
}

export interface StoredEvent {
  resource: Event;
  seq: number;
  updatedMs: number;
  createdMs: number;
  times: Times;
  series?: Series;
  /** For instance exceptions: the id of the series they belong to. */
  masterId?: string;
}

export interface Calendar {
  id: string;
  summary: string;
  timeZone: string;
  seq: number;
  createdMs: number;
  /** Changes on reset so page tokens from an earlier life of the calendar are rejected. */
  incarnation: string;
  resourceId: string;
  events: Map<string, StoredEvent>;
  syncTokens: SyncTokenRegistry;
}

export interface VirtualInstance {
  id: string;
  resource: Event;
  times: Times;
  master: StoredEvent;
}

// Fields Google computes; client-sent values are ignored rather than trusted.
const READ_ONLY = ['kind', 'etag', 'htmlLink', 'created', 'updated', 'creator', 'organizer', 'recurringEventId', 'originalStartTime', 'hangoutLink'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Google's patch semantics: nested objects merge, arrays and scalars replace, null clears.
 *  start/end replace wholesale so switching between date and dateTime works without nulls. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>, top = true): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (!(top && (k === 'start' || k === 'end')) && isPlainObject(v) && isPlainObject(out[k])) {
      out[k] = mergePatch(out[k] as Record<string, unknown>, v, false);
    } else out[k] = v;
  }
  return out;
}

function stripReadOnly(body: Event): Event {
  const copy: Record<string, unknown> = { ...body };
  for (const k of READ_ONLY) delete copy[k];
  return copy as Event;
}

// What an exception never inherits from its series on an edit: identity, times, bookkeeping.
const NOT_INHERITED = new Set([
  'kind', 'etag', 'id', 'htmlLink', 'created', 'updated', 'start', 'end', 'recurrence', 'recurringEventId',
  'originalStartTime', 'iCalUID', 'sequence', 'status', 'creator', 'organizer',
]);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function sameTimes(a: Event, b: Event): boolean {
  return JSON.stringify([a.start, a.end, a.recurrence]) === JSON.stringify([b.start, b.end, b.recurrence]);
}

export class Store {
  readonly calendars = new Map<string, Calendar>();
  /** Called once per mutating operation with the calendar it touched (drives push pings). */
  onChange: (calendarId: string) => void = () => {};

  constructor(private readonly now: () => number) {}

  reset(): void {
    this.calendars.clear();
  }

  createCalendar(id: string, opts: { summary?: string; timeZone?: string } = {}): Calendar {
    const existing = this.calendars.get(id);
    if (existing) return existing;
    const cal: Calendar = {
      id,
      summary: opts.summary ?? id,
      timeZone: opts.timeZone ?? 'UTC',
      seq: 0,
      createdMs: this.now(),
      incarnation: randomBytes(6).toString('base64url'),
      resourceId: newResourceId(),
      events: new Map(),
      syncTokens: new SyncTokenRegistry(),
    };
    this.calendars.set(id, cal);
    return cal;
  }

  calendar(id: string): Calendar {
    const cal = this.calendars.get(id);
    if (!cal) throw errors.notFound();
    return cal;
  }

  // ---- reads ---------------------------------------------------------------------------

  get(calendarId: string, eventId: string): Event {
    const cal = this.calendar(calendarId);
    const stored = cal.events.get(eventId);
    // Google still answers get() for a deleted event, with status "cancelled".
    if (stored) return structuredClone(stored.resource);
    const inst = this.virtualInstance(cal, eventId);
    if (!inst) throw errors.notFound();
    return structuredClone(inst.resource);
  }

  instanceIdFor(master: StoredEvent, occ: Occurrence): string {
    const suffix = master.times.allDay ? compactDate(occ.localMs) : compactUtc(occ.utcMs);
    return `${master.resource.id}_${suffix}`;
  }

  instanceAt(cal: Calendar, master: StoredEvent, occ: Occurrence): VirtualInstance {
    const id = this.instanceIdFor(master, occ);
    const { times, start, end } = occurrenceTimes(master.times, occ, master.resource.start?.timeZone);
    const { recurrence: _recurrence, ...rest } = master.resource;
    const resource: Event = {
      ...structuredClone(rest),
      id,
      htmlLink: htmlLink(cal.id, id),
      start,
      end,
      recurringEventId: master.resource.id!,
      originalStartTime: structuredClone(start),
    };
    return { id, resource, times, master };
  }

  private virtualInstance(cal: Calendar, instanceId: string): VirtualInstance | undefined {
    const parts = splitInstanceId(instanceId);
    if (!parts) return undefined;
    const master = cal.events.get(parts.baseId);
    if (!master?.series) return undefined;
    const occ = master.series.occurrences.find((o) => this.instanceIdFor(master, o) === instanceId);
    return occ ? this.instanceAt(cal, master, occ) : undefined;
  }

  // ---- writes --------------------------------------------------------------------------

  private stamp(cal: Calendar, stored: StoredEvent, now: number): void {
    stored.seq = ++cal.seq;
    stored.updatedMs = now;
    stored.resource.updated = rfc3339Millis(now);
    stored.resource.etag = etagFor(now, stored.seq);
  }

  private applySeries(stored: StoredEvent, v: Validated): void {
    if (!v.recurrence) {
      delete stored.series;
      return;
    }
    const occurrences = seriesOccurrences({ times: v.times, parsed: v.recurrence.parsed }, stored.createdMs);
    const known = stored.series?.known ?? new Map<string, EventDateTime>();
    stored.series = { parsed: v.recurrence.parsed, occurrences, known };
    for (const occ of occurrences) {
      const { start } = occurrenceTimes(v.times, occ, stored.resource.start?.timeZone);
      known.set(this.instanceIdFor(stored, occ), start);
    }
  }

  insert(calendarId: string, body: Event): Event {
    const ev = this.insertQuiet(this.calendar(calendarId), body);
    this.onChange(calendarId);
    return ev;
  }

  /** Many inserts, one change notification: models a burst of edits Google would coalesce. */
  insertMany(calendarId: string, bodies: Event[]): Event[] {
    const cal = this.calendar(calendarId);
    const out = bodies.map((b) => this.insertQuiet(cal, b));
    if (out.length > 0) this.onChange(calendarId);
    return out;
  }

  private insertQuiet(cal: Calendar, body: Event): Event {
    const clean = stripReadOnly(body);
    if (clean.id != null) {
      if (!EVENT_ID.test(clean.id)) throw errors.invalid('Invalid resource id value.');
      // Google keeps ids of deleted events reserved.
      if (cal.events.has(clean.id)) throw errors.duplicate();
    }
    const v = validateTimes(clean, cal.timeZone);
    const now = this.now();
    const id = clean.id ?? newEventId();
    const resource: Event = {
      kind: 'calendar#event',
      etag: '',
      id,
      status: 'confirmed',
      htmlLink: htmlLink(cal.id, id),
      created: rfc3339Millis(now),
      updated: rfc3339Millis(now),
      ...clean,
      creator: { email: cal.id, self: true },
      organizer: { email: cal.id, displayName: cal.summary, self: true },
      start: v.start,
      end: v.end,
      iCalUID: clean.iCalUID ?? `${id}@google.com`,
      sequence: clean.sequence ?? 0,
      reminders: clean.reminders ?? { useDefault: true },
      eventType: clean.eventType ?? 'default',
    };
    if (v.recurrence) resource.recurrence = v.recurrence.lines;
    else delete resource.recurrence;
    const stored: StoredEvent = { resource, seq: 0, updatedMs: now, createdMs: now, times: v.times };
    this.applySeries(stored, v);
    cal.events.set(id, stored);
    this.stamp(cal, stored, now);
    return structuredClone(resource);
  }

  patch(calendarId: string, eventId: string, patch: Event): Event {
    return this.write(calendarId, eventId, (current) =>
      mergePatch(current as Record<string, unknown>, stripReadOnly(patch) as Record<string, unknown>) as Event);
  }

  update(calendarId: string, eventId: string, body: Event): Event {
    return this.write(calendarId, eventId, () => stripReadOnly(body));
  }

  private write(calendarId: string, eventId: string, next: (current: Event) => Event): Event {
    const cal = this.calendar(calendarId);
    const stored = cal.events.get(eventId) ?? this.materializeException(cal, eventId);
    const current = stored.resource;
    const proposed = next(structuredClone(current));
    if (proposed.id != null && proposed.id !== current.id) throw errors.invalid('Invalid resource id value.');
    const v = validateTimes(proposed, cal.timeZone);
    if (stored.masterId && v.recurrence) throw errors.invalid('Invalid recurrence rule.');
    const now = this.now();
    const resource: Event = {
      ...proposed,
      kind: 'calendar#event',
      id: current.id!,
      htmlLink: current.htmlLink!,
      created: current.created!,
      creator: current.creator!,
      organizer: current.organizer!,
      start: v.start,
      end: v.end,
      iCalUID: proposed.iCalUID ?? current.iCalUID!,
      status: proposed.status ?? current.status ?? 'confirmed',
      sequence: proposed.sequence ?? current.sequence ?? 0,
      reminders: proposed.reminders ?? current.reminders ?? { useDefault: true },
      eventType: proposed.eventType ?? current.eventType ?? 'default',
    };
    if (current.recurringEventId) {
      resource.recurringEventId = current.recurringEventId;
      resource.originalStartTime = current.originalStartTime!;
    }
    if (v.recurrence) resource.recurrence = v.recurrence.lines;
    else delete resource.recurrence;
    // Google bumps sequence on changes attendees must be told about (time, recurrence).
    if (!sameTimes(current, resource) && resource.sequence! <= (current.sequence ?? 0)) resource.sequence = (current.sequence ?? 0) + 1;
    stored.resource = resource;
    stored.times = v.times;
    if (!stored.masterId) this.applySeries(stored, v);
    cal.events.set(resource.id!, stored);
    this.stamp(cal, stored, now);
    if (stored.series) this.propagateToExceptions(cal, current, resource, now);
    this.onChange(calendarId);
    return structuredClone(resource);
  }

  /** A series edit reaches the exceptions that did not override the edited field (Google copies
   *  unchanged fields from the series into exceptions), and each one changed is stamped, so an
   *  incremental sync reports it. */
  private propagateToExceptions(cal: Calendar, before: Event, after: Event, now: number): void {
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (k) => !NOT_INHERITED.has(k) && !same(before[k as keyof Event], after[k as keyof Event]),
    );
    if (changed.length === 0) return;
    for (const other of cal.events.values()) {
      if (other.masterId !== after.id || other.resource.status === 'cancelled') continue;
      const ex = other.resource as Record<string, unknown>;
      let touched = false;
      for (const k of changed) {
        if (!same(ex[k], before[k as keyof Event])) continue; // the exception overrode it
        const v = after[k as keyof Event];
        if (v === undefined) delete ex[k];
        else ex[k] = structuredClone(v);
        touched = true;
      }
      if (touched) this.stamp(cal, other, now);
    }
  }

  /** Editing an instance of a series turns it into a stored exception keyed by the instance id. */
  private materializeException(cal: Calendar, instanceId: string): StoredEvent {
    const inst = this.virtualInstance(cal, instanceId);
    if (!inst) throw errors.notFound();
    const now = this.now();
    return {
      resource: { ...inst.resource, created: inst.master.resource.created! },
      seq: 0,
      updatedMs: now,
      createdMs: now,
      times: inst.times,
      masterId: inst.master.resource.id!,
    };
  }

  delete(calendarId: string, eventId: string): void {
    const cal = this.calendar(calendarId);
    const existing = cal.events.get(eventId);
    if (existing?.resource.status === 'cancelled') throw errors.deleted();
    const stored = existing ?? this.materializeException(cal, eventId);
    const now = this.now();
    stored.resource.status = 'cancelled';
    cal.events.set(stored.resource.id!, stored);
    this.stamp(cal, stored, now);
    if (stored.series) {
      // Deleting a series deletes its exceptions too.
      for (const other of cal.events.values()) {
        if (other.masterId === eventId && other.resource.status !== 'cancelled') {
          other.resource.status = 'cancelled';
          this.stamp(cal, other, now);
        }
      }
    }
    this.onChange(calendarId);
  }

  invalidateSyncTokens(calendarId: string): void {
    this.calendar(calendarId).syncTokens.invalidateAll();
  }
}
