// A log of every Calendar API call (and token request) with who made it, when by the emulator
// clock, and how it was answered, so tests can check a client's pacing: e.g. "this account
// never made more than N calls in any window". Bounded, so a long dev run cannot grow it forever.

export interface CallRecord {
  /** googleapis method name (events.list, events.watch, channels.stop, …) or "token". */
  method: string;
  /** userLabel() of the caller's refresh token; absent when the call carried no live token. */
  user?: string;
  /** Emulator clock, ms. */
  at: number;
  /** HTTP status of the answer; 0 while the call is still being answered. */
  status: number;
}

const MAX_RECORDS = 100_000;

export class CallLog {
  private records: CallRecord[] = [];

  add(record: CallRecord): CallRecord {
    this.records.push(record);
    if (this.records.length > MAX_RECORDS) this.records = this.records.slice(-MAX_RECORDS / 2);
    return record;
  }

  /** Copies of the records with `at >= since`, oldest first. */
  since(since = 0): CallRecord[] {
    return this.records.filter((r) => r.at >= since).map((r) => ({ ...r }));
  }

  clear(): void {
    this.records = [];
  }
}

/** The most records that fall in any window of `windowMs` (a half-open interval (t - windowMs, t],
 *  as the quota counts): what a test compares with a per-minute budget. */
export function busiestWindow(records: ReadonlyArray<Pick<CallRecord, 'at'>>, windowMs: number): number {
  const times = records.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  let first = 0;
  for (let last = 0; last < times.length; last++) {
    while (times[first]! <= times[last]! - windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}
