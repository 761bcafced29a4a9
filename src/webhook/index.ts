export { parsePingHeaders, REJECTION_REASONS, PING_OUTCOMES, type Ping, type PingOutcome, type RejectionReason } from './ping.js';
export { PingVerifier, type Verdict } from './verify-ping.js';
export { PingReceiver, type ReceiveResult } from './ping-receiver.js';
export { noopWebhookMetrics, prometheusWebhookMetrics, type WebhookMetrics } from './metrics.js';
