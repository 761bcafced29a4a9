/**
 * A Google Calendar push notification, as parsed from its headers (DESIGN.md §2). Pings have no
 * body; everything is in X-Goog-* headers.
 */
export const RESOURCE_STATES = ['sync', 'exists', 'not_exists'] as const;
export type ResourceState = (typeof RESOURCE_STATES)[number];

export interface Ping {
  channelId: string;
  messageNumber: number;
  resourceId: string;
  resourceState: ResourceState;
  /** X-Goog-Channel-Token; absent when the channel was opened without one (ours never are). */
  token: string | null;
}

/**
 * Every reason a ping is turned away, stable for metrics and logs. Verification reasons all answer
 * the same HTTP status, so a caller cannot probe which channels exist.
 */
export const REJECTION_REASONS = [
  'missing_header',
  'malformed_header',
  'unknown_channel',
  'token_mismatch',
  'resource_mismatch',
  'channel_stopped',
  'channel_expired',
  'body_not_allowed',
  'payload_too_large',
  'method_not_allowed',
  'rate_limited_source',
  'rate_limited_global',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** What happened to a verified ping. */
export const PING_OUTCOMES = ['sync_requested', 'acknowledged', 'stale'] as const;
export type PingOutcome = (typeof PING_OUTCOMES)[number];

const PRINTABLE = /^[\x21-\x7e]+$/;

export type ParsedPing = { ok: true; ping: Ping } | { ok: false; reason: 'missing_header' | 'malformed_header'; message: string };

type Headers = Record<string, string | string[] | undefined>;

function single(headers: Headers, name: string): string | undefined | null {
  const v = headers[name];
  if (Array.isArray(v)) return null; // repeated header: ambiguous, never trusted
  return v;
}

/**
 * Validates the X-Goog-* headers. Limits follow Google's own (channel id ≤ 64, token ≤ 256); a
 * repeated header (which Node joins with ", ") is malformed because it contains a space.
 */
export function parsePingHeaders(headers: Headers): ParsedPing {
  const read = (name: string, max: number): string | { error: ParsedPing & { ok: false } } => {
    const v = single(headers, name);
    if (v === undefined || v === '') return { error: { ok: false, reason: 'missing_header', message: `${name} is required` } };
    if (v === null || v.length > max || !PRINTABLE.test(v)) {
      return { error: { ok: false, reason: 'malformed_header', message: `${name} is malformed` } };
    }
    return v;
  };
  const channelId = read('x-goog-channel-id', 64);
  if (typeof channelId !== 'string') return channelId.error;
  const resourceId = read('x-goog-resource-id', 256);
  if (typeof resourceId !== 'string') return resourceId.error;
  const state = read('x-goog-resource-state', 32);
  if (typeof state !== 'string') return state.error;
  const number = read('x-goog-message-number', 16);
  if (typeof number !== 'string') return number.error;

  if (!(RESOURCE_STATES as readonly string[]).includes(state)) {
    return { ok: false, reason: 'malformed_header', message: 'x-goog-resource-state must be sync, exists or not_exists' };
  }
  if (!/^[0-9]{1,15}$/.test(number) || Number(number) < 1) {
    return { ok: false, reason: 'malformed_header', message: 'x-goog-message-number must be a positive integer' };
  }
  let token: string | null = null;
  if (headers['x-goog-channel-token'] !== undefined) {
    const t = read('x-goog-channel-token', 256);
    if (typeof t !== 'string') return t.error;
    token = t;
  }
  return {
    ok: true,
    ping: { channelId, resourceId, resourceState: state as ResourceState, messageNumber: Number(number), token },
  };
}
