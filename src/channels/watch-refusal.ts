import { classifyGoogleError, type ClassifiedGoogleError } from '../google/google-errors.js';

/**
 * What a failed `events.watch` means for the channel we saved as pending:
 *   refused    Google will never push for this calendar (400, or a 403 that is not a rate limit, e.g.
 *              `pushNotSupportedForRequestedResource`): the calendar falls back to polling.
 *   rejected   Google answered with an error, so no channel exists (auth, rate limit, 404…): retry later.
 *   uncertain  no answer or a 5xx: the channel may exist at Google; keep it pending so a `sync` ping
 *              can still confirm it, and let the stale-pending sweep settle it.
 */
export type WatchFailureKind = 'refused' | 'rejected' | 'uncertain';

const AUTH_REASONS = new Set(['invalid_grant', 'unauthorized_client', 'invalid_client']);

export function classifyWatchFailure(err: unknown): { kind: WatchFailureKind; error: ClassifiedGoogleError } {
  const error = classifyGoogleError(err);
  const { status, reason } = error;
  if (status === null || status >= 500) return { kind: 'uncertain', error };
  const authProblem = reason !== null && AUTH_REASONS.has(reason);
  if ((status === 400 || (status === 403 && error.kind === 'permission')) && !authProblem) return { kind: 'refused', error };
  return { kind: 'rejected', error };
}

/** `channels.stop` answering 404/410 means the channel is already gone: as good as stopped. */
export function stopMeansGone(err: unknown): boolean {
  const { status } = classifyGoogleError(err);
  return status === 404 || status === 410;
}
