// Google's Calendar API quotas (usage-limits guide): requests per minute per project and per
// user per project, counted over a sliding window. Off by default so tests that do not ask for
// it never see a rate-limit answer; when on, a request over either budget is refused before it
// reaches its handler (and before injected faults), as Google's front end does.

import { createHash } from 'node:crypto';
import { GoogleApiError } from './errors.js';

export interface QuotaSettings {
  /** Google's default: 600 requests per minute per user (per refresh token here). */
  perUserPerMinute: number;
  /** Google's default: 10,000 requests per minute per project (the whole emulator). */
  perProjectPerMinute: number;
  /** Length of the "minute". Emulator-only knob so tests can scale the window down. */
  windowMs: number;
  /** Google answers rate limits with 403 (errors guide) or 429; 403 by default. */
  status: 403 | 429;
}

export const GOOGLE_QUOTA: QuotaSettings = { perUserPerMinute: 600, perProjectPerMinute: 10_000, windowMs: 60_000, status: 403 };

/** An opaque, stable name for an account in call logs: refresh tokens are secrets. */
export function userLabel(refreshToken: string): string {
  return `user-${createHash('sha256').update(refreshToken).digest('hex').slice(0, 12)}`;
}

/** Admission times of one budget's requests, oldest first; only the window's tail is kept. */
class SlidingWindow {
  private times: number[] = [];

  count(now: number, windowMs: number): number {
    const cutoff = now - windowMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! <= cutoff) drop++;
    if (drop > 0) this.times = this.times.slice(drop);
    return this.times.length;
  }

  add(now: number): void {
    this.times.push(now);
  }
}

function rateLimitError(status: number, budget: 'user' | 'project'): GoogleApiError {
  // The errors guide's 429 carries rateLimitExceeded whichever budget ran out.
  const reason = budget === 'user' && status === 403 ? 'userRateLimitExceeded' : 'rateLimitExceeded';
  const message = reason === 'userRateLimitExceeded' ? 'User Rate Limit Exceeded' : 'Rate Limit Exceeded';
  return new GoogleApiError(status, { domain: 'usageLimits', reason, message });
}

export class Quota {
  private current: QuotaSettings | undefined;
  private project = new SlidingWindow();
  private users = new Map<string, SlidingWindow>();

  constructor(private readonly now: () => number) {}

  get settings(): QuotaSettings | undefined {
    return this.current && { ...this.current };
  }

  /** Turns quota accounting on (missing fields take Google's defaults) with empty windows. */
  set(settings: Partial<QuotaSettings>): QuotaSettings {
    this.current = { ...GOOGLE_QUOTA, ...settings };
    this.project = new SlidingWindow();
    this.users.clear();
    return { ...this.current };
  }

  off(): void {
    this.current = undefined;
    this.project = new SlidingWindow();
    this.users.clear();
  }

  /** Admits the request (counting it against both budgets) or returns the error to answer
   *  with. Refused requests are not counted, so a client that waits gets back in. */
  admit(user: string): GoogleApiError | undefined {
    const q = this.current;
    if (!q) return undefined;
    const now = this.now();
    let mine = this.users.get(user);
    if (!mine) this.users.set(user, (mine = new SlidingWindow()));
    if (mine.count(now, q.windowMs) >= q.perUserPerMinute) return rateLimitError(q.status, 'user');
    if (this.project.count(now, q.windowMs) >= q.perProjectPerMinute) return rateLimitError(q.status, 'project');
    mine.add(now);
    this.project.add(now);
    return undefined;
  }
}
