import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus series calsync exports, on a registry of its own (not prom-client's global one) so
 * several apps in one test process never collide. Domain modules receive this object and record
 * outcomes; they never import prom-client themselves.
 */
export function createMetrics() {
  const registry = new Registry();
  // prom-client's default names already start with `process_` / `nodejs_`: the prefix is only ours.
  collectDefaultMetrics({ register: registry, prefix: 'calsync_' });

  const pingToMirror = new Histogram({
    name: 'calsync_ping_to_mirror_seconds',
    help: 'Freshness: from accepting a verified change ping to the end of the sync pass that covers it (one observation per pass, for its earliest ping).',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });

  return {
    registry,
    pingToMirror,
    /** Records one freshness sample in seconds (the sync observer, src/ops/sync-observer.ts). */
    observeFreshness(seconds: number): void {
      if (Number.isFinite(seconds) && seconds >= 0) pingToMirror.observe(seconds);
    },
    syncs: new Counter({
      name: 'calsync_syncs_total',
      help: 'Finished calendar syncs by mode (incremental|full) and outcome (ok|failed|needs_attention).',
      labelNames: ['mode', 'outcome'] as const,
      registers: [registry],
    }),
    syncDuration: new Histogram({
      name: 'calsync_sync_duration_seconds',
      help: 'Wall time of one calendar sync pass, by mode.',
      labelNames: ['mode'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'calsync_full_sync_fallbacks_total',
      help: 'Incremental syncs that fell back to a full sync, by reason (token_expired|token_invalid).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tokenExpirations: new Counter({
      name: 'calsync_sync_token_expirations_total',
      help: 'Sync tokens Google declared dead (410 fullSyncRequired).',
      registers: [registry],
    }),
    apiCalls: new Counter({
      name: 'calsync_google_api_calls_total',
      help: 'Google Calendar API calls made, by method.',
      labelNames: ['method'] as const,
      registers: [registry],
    }),
    fullPollingEquivalentCalls: new Counter({
      name: 'calsync_full_polling_equivalent_calls_total',
      help: 'API calls a full re-list would have cost for the same syncs (pages of 250); the baseline for API call reduction.',
      registers: [registry],
    }),
    eventsChanged: new Counter({
      name: 'calsync_events_changed_total',
      help: 'Mirror writes (upserts and deletions) applied by syncs.',
      registers: [registry],
    }),
    apiErrors: new Counter({
      name: 'calsync_google_api_errors_total',
      help: 'Google API errors by class (dead_token|rate_limited|transient|permission|not_found|bad_request).',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    pings: new Counter({
      name: 'calsync_webhook_pings_total',
      help: 'Webhook pings by result (accepted|sync_requested|duplicate|rejected).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    pingRejections: new Counter({
      name: 'calsync_webhook_rejections_total',
      help: 'Rejected webhook requests by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    discoveryPasses: new Counter({
      name: 'calsync_discovery_passes_total',
      help: 'Calendar discovery passes (calendarList sync per account) by outcome (ok|token_expired|disabled|failed|lease_lost).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    channelRenewals: new Counter({
      name: 'calsync_channel_renewals_total',
      help: 'Push channel renewals by outcome.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    quotaBudgetUsed: new Gauge({
      name: 'calsync_quota_budget_used_ratio',
      help: 'Share of the current quota slice used, by scope (account: the busiest account seen in the slice; project).',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    quotaThrottled: new Counter({
      name: 'calsync_quota_throttled_total',
      help: 'Google calls that had to wait for quota, by scope (account|project) and priority class.',
      labelNames: ['scope', 'priority'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'calsync_webhook_deliveries_total',
      help: 'Change-feed webhook delivery attempts by outcome (delivered|failed|failing).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deliveryDelay: new Histogram({
      name: 'calsync_change_delivery_delay_seconds',
      help: 'From calsync seeing a change to its subscriber accepting it (first change of each delivered batch).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    calendars: new Gauge({
      name: 'calsync_calendars',
      help: 'Registered calendars by sync state and delivery mode (refreshed on scrape).',
      labelNames: ['state', 'mode'] as const,
      registers: [registry],
    }),
    channels: new Gauge({
      name: 'calsync_channels',
      help: 'Push channels by status (pending|active|superseded|stopped), fleet-wide (refreshed on scrape).',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    channelEarliestExpiry: new Gauge({
      name: 'calsync_channel_earliest_expiry_timestamp_seconds',
      help: 'Unix time at which the first push channel of a status expires, fleet-wide (refreshed on scrape; only status="active", absent with no active channel).',
      // Labelled so a reset leaves no sample: an unlabelled gauge would read 0 (1970) with no channel.
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    leasesHeld: new Gauge({
      name: 'calsync_leases_held',
      help: 'Leases held and not yet expired, fleet-wide, by kind (sync: a calendar being synced) (refreshed on scrape).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    accounts: new Gauge({
      name: 'calsync_accounts',
      help: 'Accounts by status (active|reauth_required: Google refused the refresh token, a person must reconnect it), fleet-wide (refreshed on scrape).',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    // Registered here so dashboards and alert rules can rely on the name; the change-feed
    // deliveries record into it.
    subscriptionsFailing: new Gauge({
      name: 'calsync_subscriptions_failing',
      help: 'Change-feed subscriptions whose deliveries are failing.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
