import type { Counter } from 'prom-client';
import type { PingOutcome, RejectionReason } from './ping.js';

/** What the webhook reports; injected so tests can record and production can export to Prometheus. */
export interface WebhookMetrics {
  rejected(reason: RejectionReason): void;
  handled(outcome: PingOutcome): void;
  /** A ping we could not judge because our own storage failed (answered 503 so Google retries). */
  failed(): void;
}

export const noopWebhookMetrics: WebhookMetrics = { rejected() {}, handled() {}, failed() {} };

/** Result label per outcome, in the vocabulary of `calsync_webhook_pings_total` (src/metrics/registry.ts). */
const RESULT: Record<PingOutcome, string> = { sync_requested: 'sync_requested', acknowledged: 'accepted', stale: 'duplicate' };

/**
 * Records into the app's Prometheus counters: `calsync_webhook_rejections_total{reason}` and
 * `calsync_webhook_pings_total{result}` (accepted | sync_requested | duplicate | rejected | failed).
 */
export function prometheusWebhookMetrics(counters: { pings: Counter<'result'>; pingRejections: Counter<'reason'> }): WebhookMetrics {
  return {
    rejected(reason) {
      counters.pingRejections.inc({ reason });
      counters.pings.inc({ result: 'rejected' });
    },
    handled(outcome) {
      counters.pings.inc({ result: RESULT[outcome] });
    },
    failed() {
      counters.pings.inc({ result: 'failed' });
    },
  };
}
