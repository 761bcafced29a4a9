import type { Priority } from '../sync/priority.js';

/**
 * What the sync path needs from the quota governor: permission for each Google call, and a way to
 * tell it that Google pushed back. Calls are attributed to a Google account (Google's per-user
 * quota) and to the project (one budget for every account and every replica).
 */
export interface QuotaGate {
  /**
   * Takes one call from the account's and the project's budgets for work of this priority, waiting
   * while the budget (or the share of it this priority may use) is spent. Rejects when `signal`
   * aborts.
   */
  acquire(accountId: string, priority: Priority, signal?: AbortSignal): Promise<void>;
  /** How long a call of this priority would wait now (0: it may go). Takes nothing. */
  waitFor(accountId: string, priority: Priority): Promise<number>;
  /** Google rate-limited this account: all of its calls, on every replica, wait `ms`. */
  throttled(accountId: string, ms: number): Promise<void>;
}

/** No budgets: every call goes at once (tests that are not about quota, scripts). */
export const unlimitedQuota: QuotaGate = {
  acquire: async () => undefined,
  waitFor: async () => 0,
  throttled: async () => undefined,
};
