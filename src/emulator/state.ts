// Everything one emulator instance holds, wired together: the store's change hook fans out
// pings, and one clock (injectable, advanceable) drives token expiry and channel expiry.

import { Auth } from './auth.js';
import { CallLog, type CallRecord } from './call-log.js';
import { Channels } from './channels.js';
import { Faults } from './faults.js';
import { calendarListKey } from './calendar-list.js';
import { Identity } from './identity.js';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits, type PagingSettings } from './listing.js';
import { PingDispatcher, type PingSettings } from './push.js';
import { Quota } from './quota.js';
import { Store } from './store.js';

export interface StateOptions {
  now?: () => number;
  pings?: Partial<PingSettings>;
}

export class EmulatorState {
  /** Added to the base clock by POST /emulator/clock, so expiry can be tested without waiting. */
  clockOffsetMs = 0;
  readonly now: () => number;
  readonly store: Store;
  readonly auth: Auth;
  readonly identity: Identity;
  readonly faults = new Faults();
  readonly channels: Channels;
  readonly pings: PingDispatcher;
  paging: PagingSettings = {};
  /** Sync-token idle expiry and the updatedMin horizon (PUT /emulator/limits). */
  limits: HistoryLimits = { ...DEFAULT_HISTORY_LIMITS };
  readonly calls = new Map<string, number>();
  readonly callLog = new CallLog();
  readonly quota: Quota;
  /** The log record of each request being answered, so its status can be filled in. */
  private readonly answering = new WeakMap<object, CallRecord>();
  baseUrl = '';

  constructor(private readonly opts: StateOptions = {}) {
    const base = opts.now ?? Date.now;
    this.now = () => base() + this.clockOffsetMs;
    this.store = new Store(this.now);
    this.auth = new Auth(this.now);
    this.channels = new Channels(this.now);
    this.quota = new Quota(this.now);
    this.pings = new PingDispatcher(this.channels, opts.pings);
    this.store.onChange = (calendarId) => this.pings.changed(calendarId);
    this.identity = new Identity(this.auth, this.now, (sub) => this.pings.changed(calendarListKey(sub)));
  }

  /** Counts a call and opens its log record; `request` is the raw request it answers. */
  count(method: string, request: object): CallRecord {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const record = this.callLog.add({ method, at: this.now(), status: 0 });
    this.answering.set(request, record);
    return record;
  }

  answered(request: object, status: number): void {
    const record = this.answering.get(request);
    if (record) record.status = status;
  }

  stats(): Record<string, number> {
    return Object.fromEntries([...this.calls].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Back to a blank emulator. Pings already in flight are left to finish (or fail) on their own. */
  reset(): void {
    this.store.reset();
    this.auth.reset();
    this.identity.reset();
    this.faults.clear();
    this.channels.reset();
    this.pings.reset(this.opts.pings);
    this.paging = {};
    this.limits = { ...DEFAULT_HISTORY_LIMITS };
    this.calls.clear();
    this.callLog.clear();
    this.quota.off();
    this.clockOffsetMs = 0;
  }
}
