import type { SyncRunModel } from './sync-run.js';

/** Alert thresholds from the design (section 6); rates are over the last hour of finished syncs. */
export const ALERT_RULES = {
  tokenExpirationRate: 0.1,
  errorRate: 0.05,
  slowSyncMs: 60_000,
  fallbackRate: 0.2,
} as const;

export interface Alert {
  name: 'token_expiration_rate' | 'api_error_rate' | 'slow_sync' | 'fallback_spike' | 'account_reauth_required';
  severity: 'warning' | 'critical';
  message: string;
  value: number;
  threshold: number;
}

export interface HourSummary {
  syncs: number;
  incremental: number;
  full: number;
  failed: number;
  fallbacks: number;
  tokenExpirations: number;
  maxDurationMs: number;
  apiCalls: number;
}

export async function summarizeLastHour(SyncRun: SyncRunModel, now = new Date()): Promise<HourSummary> {
  const since = new Date(now.getTime() - 3600_000);
  const [row] = await SyncRun.aggregate<HourSummary>([
    { $match: { finishedAt: { $gte: since } } },
    {
      $group: {
        _id: null,
        syncs: { $sum: 1 },
        incremental: { $sum: { $cond: [{ $eq: ['$mode', 'incremental'] }, 1, 0] } },
        full: { $sum: { $cond: [{ $eq: ['$mode', 'full'] }, 1, 0] } },
        failed: { $sum: { $cond: [{ $eq: ['$outcome', 'ok'] }, 0, 1] } },
        fallbacks: { $sum: { $cond: [{ $ne: ['$fallbackReason', null] }, 1, 0] } },
        tokenExpirations: { $sum: { $cond: ['$tokenExpired', 1, 0] } },
        maxDurationMs: { $max: '$durationMs' },
        apiCalls: { $sum: '$apiCalls' },
      },
    },
  ]);
  const empty: HourSummary = { syncs: 0, incremental: 0, full: 0, failed: 0, fallbacks: 0, tokenExpirations: 0, maxDurationMs: 0, apiCalls: 0 };
  if (!row) return empty;
  const { syncs, incremental, full, failed, fallbacks, tokenExpirations, maxDurationMs, apiCalls } = row;
  return { syncs, incremental, full, failed, fallbacks, tokenExpirations, maxDurationMs: maxDurationMs ?? 0, apiCalls };
}

/** Pure: which alerts fire for a summary. Rates need a few syncs to mean anything. */
export function evaluateAlerts(s: HourSummary, minSample = 5): Alert[] {
  const alerts: Alert[] = [];
  const rate = (n: number) => (s.syncs === 0 ? 0 : n / s.syncs);
  if (s.syncs >= minSample && rate(s.tokenExpirations) > ALERT_RULES.tokenExpirationRate) {
    alerts.push({
      name: 'token_expiration_rate',
      severity: 'warning',
      message: 'more than 10% of syncs in the last hour found their sync token expired',
      value: rate(s.tokenExpirations),
      threshold: ALERT_RULES.tokenExpirationRate,
    });
  }
  if (s.syncs >= minSample && rate(s.failed) > ALERT_RULES.errorRate) {
    alerts.push({
      name: 'api_error_rate',
      severity: 'critical',
      message: 'more than 5% of syncs in the last hour failed on Google API errors',
      value: rate(s.failed),
      threshold: ALERT_RULES.errorRate,
    });
  }
  if (s.maxDurationMs > ALERT_RULES.slowSyncMs) {
    alerts.push({
      name: 'slow_sync',
      severity: 'warning',
      message: 'a sync in the last hour took longer than 60 s',
      value: s.maxDurationMs,
      threshold: ALERT_RULES.slowSyncMs,
    });
  }
  if (s.syncs >= minSample && rate(s.fallbacks) > ALERT_RULES.fallbackRate) {
    alerts.push({
      name: 'fallback_spike',
      severity: 'warning',
      message: 'more than 20% of syncs in the last hour fell back to a full sync',
      value: rate(s.fallbacks),
      threshold: ALERT_RULES.fallbackRate,
    });
  }
  return alerts;
}

/** Accounts Google refused the refresh token of: their calendars are parked until a person reconnects them. */
export function accountAlerts(byStatus: { reauth_required: number }): Alert[] {
  if (byStatus.reauth_required === 0) return [];
  return [
    {
      name: 'account_reauth_required',
      severity: 'warning',
      message: `${byStatus.reauth_required} account(s) need reconnecting: Google refused the refresh token, so their calendars are not synced (mirror kept)`,
      value: byStatus.reauth_required,
      threshold: 0,
    },
  ];
}
