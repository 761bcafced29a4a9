/**
 * Which calendars of an account calsync discovers (from the account's Google calendar list) and
 * mirrors, and what happens to a discovered calendar that leaves the list.
 *
 *   none      no discovery: calendars are registered by hand (POST /admin/calendars). The default
 *             for accounts registered with POST /admin/accounts.
 *   all       every calendar the user can read (accessRole reader, writer or owner; a free/busy
 *             reader cannot list events). The default for accounts connected through consent.
 *   owned     calendars the user owns (accessRole owner).
 *   primary   the user's primary calendar only.
 *   explicit  the listed Google calendar ids, once they are on the user's list and readable.
 *
 * onRemoved: `keep` retires the calendar (channels stopped, mirror kept, shown as `retired`);
 * `remove` deletes it and its mirror, as DELETE /admin/calendars/:id does.
 */
export const DISCOVERY_POLICIES = ['none', 'all', 'owned', 'primary', 'explicit'] as const;
export type DiscoveryPolicyName = (typeof DISCOVERY_POLICIES)[number];

export const ON_REMOVED = ['keep', 'remove'] as const;
export type OnRemoved = (typeof ON_REMOVED)[number];

/** At most this many ids in an explicit list (each ≤ 1024 chars, as POST /admin/calendars). */
export const MAX_EXPLICIT_IDS = 500;

export interface DiscoveryPolicy {
  policy: DiscoveryPolicyName;
  /** Only for `explicit` (empty otherwise). */
  calendarIds: string[];
  onRemoved: OnRemoved;
}

export const NO_DISCOVERY: DiscoveryPolicy = { policy: 'none', calendarIds: [], onRemoved: 'keep' };
export const CONSENT_DEFAULT: DiscoveryPolicy = { policy: 'all', calendarIds: [], onRemoved: 'keep' };

/** What the policy needs to know about one calendar-list entry. */
export interface ListEntry {
  id: string;
  accessRole: string | null;
  primary: boolean;
}

const READABLE = new Set(['reader', 'writer', 'owner']);

/** Does the policy admit this (live) calendar-list entry? */
export function admits(p: DiscoveryPolicy, e: ListEntry): boolean {
  if (!READABLE.has(e.accessRole ?? '')) return false;
  switch (p.policy) {
    case 'all':
      return true;
    case 'owned':
      return e.accessRole === 'owner';
    case 'primary':
      return e.primary;
    case 'explicit':
      return p.calendarIds.includes(e.id);
    default:
      return false;
  }
}

/** A stored (possibly partial, possibly older) policy document read back as a full policy. */
export function policyOf(stored: { policy?: unknown; calendarIds?: unknown; onRemoved?: unknown } | null | undefined): DiscoveryPolicy {
  const policy = (DISCOVERY_POLICIES as readonly unknown[]).includes(stored?.policy) ? (stored!.policy as DiscoveryPolicyName) : 'none';
  const onRemoved = (ON_REMOVED as readonly unknown[]).includes(stored?.onRemoved) ? (stored!.onRemoved as OnRemoved) : 'keep';
  const ids = Array.isArray(stored?.calendarIds) ? (stored!.calendarIds as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  return { policy, calendarIds: policy === 'explicit' ? ids : [], onRemoved };
}

export class InvalidPolicyError extends Error {
  readonly code = 'INVALID_DISCOVERY_POLICY';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPolicyError';
  }
}

/**
 * Checks a policy given by an operator (admin body, connect link). `calendarIds` belongs to
 * `explicit` only and is required there; ids are unique, non-empty, without commas or spaces
 * (the connect link lists them comma-separated; Google calendar ids never contain either).
 */
export function validatePolicy(input: { policy: string; calendarIds?: string[]; onRemoved?: string }): DiscoveryPolicy {
  if (!(DISCOVERY_POLICIES as readonly string[]).includes(input.policy)) {
    throw new InvalidPolicyError(`policy must be one of ${DISCOVERY_POLICIES.join(', ')}`);
  }
  const policy = input.policy as DiscoveryPolicyName;
  if (input.onRemoved !== undefined && !(ON_REMOVED as readonly string[]).includes(input.onRemoved)) {
    throw new InvalidPolicyError('onRemoved must be keep or remove');
  }
  const onRemoved = (input.onRemoved ?? 'keep') as OnRemoved;
  if (policy !== 'explicit') {
    if (input.calendarIds !== undefined) throw new InvalidPolicyError('calendarIds is only for the explicit policy');
    return { policy, calendarIds: [], onRemoved };
  }
  const ids = input.calendarIds;
  if (!ids || ids.length === 0) throw new InvalidPolicyError('the explicit policy needs calendarIds (at least one)');
  if (ids.length > MAX_EXPLICIT_IDS) throw new InvalidPolicyError(`at most ${MAX_EXPLICIT_IDS} calendarIds`);
  for (const id of ids) {
    if (id.length === 0 || id.length > 1024 || /[,\s]/.test(id)) throw new InvalidPolicyError('each calendarId is 1–1024 characters without commas or spaces');
  }
  if (new Set(ids).size !== ids.length) throw new InvalidPolicyError('calendarIds must not repeat');
  return { policy, calendarIds: [...ids], onRemoved };
}
