import { isDeepStrictEqual } from 'node:util';

/** The fields an integrator watches; an `updated` change lists those that differ, before → after. */
export const WATCHED_FIELDS = ['summary', 'description', 'location', 'start', 'end', 'status', 'attendees', 'recurrence', 'organizer'] as const;

export type ChangedFields = Partial<Record<(typeof WATCHED_FIELDS)[number], { before: unknown; after: unknown }>>;

/** Absent and null mean the same to a reader of the feed. */
const norm = (v: unknown): unknown => (v === undefined ? null : v);

export function changedFields(before: Record<string, unknown> | null | undefined, after: Record<string, unknown>): ChangedFields {
  const changed: ChangedFields = {};
  for (const field of WATCHED_FIELDS) {
    const b = norm(before?.[field]);
    const a = norm(after[field]);
    if (!isDeepStrictEqual(b, a)) changed[field] = { before: b, after: a };
  }
  return changed;
}
