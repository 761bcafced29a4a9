/**
 * Classes of sync work, most urgent first. A calendar's pending priority is the most urgent of its
 * requests; replicas claim by priority, then by how long the work has been due, and the quota
 * governor keeps part of Google's budget for the more urgent classes.
 */
export const PRIORITY = {
  /** A verified ping: a user just changed something. */
  ping: 0,
  /** A dead token's recovery, a newly registered calendar, an operator's explicit request. */
  recovery: 1,
  /** Channel renewal (a calendar without a live channel gets no pings). */
  renewal: 2,
  /** The cron's safety net: stale, polled and failed calendars. */
  safetyNet: 3,
} as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY] | typeof IDLE_PRIORITY;

/** The priority of a calendar with no pending request (sorts after every class). */
export const IDLE_PRIORITY = 9;

/** `dueAt` of a calendar with no pending request: later than any real time, so `$min` can lower it. */
export const NEVER = new Date('9999-12-31T00:00:00.000Z');

export const PRIORITY_NAMES: Record<number, string> = { 0: 'ping', 1: 'recovery', 2: 'renewal', 3: 'safety_net', 9: 'idle' };
