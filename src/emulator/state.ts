// Everything one emulator instance holds, wired together: the store's change hook fans out
// pings, and one clock (injectable, advanceable) drives token expiry and channel expiry.

import { Auth } from './auth.js';
import { Channels } from './channels.js';
import { Faults } from './faults.js';
import type { PagingSettings } from './listing.js';
import { PingDispatcher, type PingSettings } from './push.js';
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
  readonly faults = new Faults();
  readonly channels: Channels;
  readonly pings: PingDispatcher;
  paging: PagingSettings = {};
  readonly calls = new Map<string, number>();
  baseUrl = '';

  constructor(private readonly opts: StateOptions = {}) {
    const base = opts.now ?? Date.now;
    this.now = () => base() + this.clockOffsetMs;
    this.store = new Store(this.now);
    this.auth = new Auth(this.now);
    this.channels = new Channels(this.now);
    this.pings = new PingDispatcher(this.channels, opts.pings);
    this.store.onChange = (calendarId) => this.pings.changed(calendarId);
  }

  count(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }

  stats(): Record<string, number> {
    return Object.fromEntries([...this.calls].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Back to a blank emulator. Pings already in flight are left to finish (or fail) on their own. */
  reset(): void {
    this.store.reset();
    this.auth.reset();
    this.faults.clear();
    this.channels.reset();
    this.pings.reset(this.opts.pings);
    this.paging = {};
    this.calls.clear();
    this.clockOffsetMs = 0;
  }
}
