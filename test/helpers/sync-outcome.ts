import { Types } from 'mongoose';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { PRIORITY } from '../../src/sync/priority.js';

/** A successful incremental pass for a ping, finished now; tests override what they look at. */
export function syncOutcome(over: Partial<SyncOutcome> = {}): SyncOutcome {
  return {
    calendarId: new Types.ObjectId().toHexString(),
    mode: 'incremental',
    reason: 'ping',
    status: 'ok',
    errorCode: null,
    fallback: false,
    tokenExpired: false,
    apiCalls: 1,
    retries: 0,
    eventsChanged: 1,
    durationMs: 40,
    eventCount: 10,
    priority: PRIORITY.ping,
    dueAt: new Date(Date.now() - 100),
    finishedAt: new Date(),
    ...over,
  };
}
