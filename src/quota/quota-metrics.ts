import type { Metrics } from '../metrics/registry.js';

export type QuotaScope = 'account' | 'project';

/** What the quota governor records. */
export interface QuotaMetrics {
  /** Share of the current slice's budget used (account: the busiest account seen in the slice). */
  budgetUsed(scope: QuotaScope, ratio: number): void;
  /** A call had to wait for this scope's budget (counted once per call and scope). */
  throttled(scope: QuotaScope, priority: string): void;
}

/** The governor's records as Prometheus series. */
export function prometheusQuotaMetrics(metrics: Pick<Metrics, 'quotaBudgetUsed' | 'quotaThrottled'>): QuotaMetrics {
  return {
    budgetUsed: (scope, ratio) => metrics.quotaBudgetUsed.set({ scope }, ratio),
    throttled: (scope, priority) => metrics.quotaThrottled.inc({ scope, priority }),
  };
}
