// Injected faults: make the next N calls of a method (or a random fraction of them) fail with
// a Google-shaped error and/or answer slowly, so retry/backoff paths can be tested for real.

import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { faultError, type GoogleApiError } from './errors.js';

export interface FaultRule {
  /** googleapis method name (events.list, channels.stop, token, …) or "*" for every method. */
  method: string;
  status?: number;
  reason?: string;
  message?: string;
  /** Fail the next `count` calls; then the rule is spent. */
  count?: number;
  /** Fail each call with this probability (0..1). */
  rate?: number;
  latencyMs?: number;
  /** Seconds, sent as Retry-After (Google's clients ignore it; ours may not). */
  retryAfter?: number;
}

export class Faults {
  private rules: FaultRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Applies latency, then returns the error to answer with, if a rule fires for this call.
   *  A rule with `count` (latency included) is removed once its count is spent. */
  async apply(method: string): Promise<GoogleApiError | undefined> {
    const matching = this.rules.filter((r) => (r.method === method || r.method === '*') && (r.count === undefined || r.count > 0));
    const latency = Math.max(0, ...matching.map((r) => r.latencyMs ?? 0));
    let fired: GoogleApiError | undefined;
    for (const rule of matching) {
      if (rule.status === undefined) {
        if (rule.count !== undefined) rule.count--;
        continue;
      }
      if (fired) continue;
      if (rule.count !== undefined) rule.count--;
      else if (rule.rate !== undefined && randomInt(1_000_000) >= rule.rate * 1_000_000) continue;
      fired = faultError(rule.status, rule.reason, rule.message, rule.retryAfter);
    }
    this.rules = this.rules.filter((r) => r.count === undefined || r.count > 0);
    if (latency > 0) await sleep(latency);
    return fired;
  }
}
