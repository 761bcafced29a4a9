import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CalendarViews } from '../../calendars/calendar-views.js';
import type { Alert } from '../../ops/alerts.js';
import type { SubscriptionService } from '../../subscriptions/subscription-service.js';
import { ErrorReply, FleetStatus } from './schemas.js';


export interface StatusRoutesOptions {
  views: CalendarViews;
  /** Active alerts; wired by the composition root once alerting exists. */
  alerts?: () => Promise<Alert[]>;
  /** Webhook subscriptions by delivery state (the change feed). */
  subscriptions?: SubscriptionService;
}

/** GET /admin/status: counts by sync state and delivery mode, channel expiry summary, active alerts. */
export const statusRoutes: FastifyPluginAsyncTypebox<StatusRoutesOptions> = async (app, { views, alerts, subscriptions }) => {
  app.get('/status', { schema: { response: { 200: FleetStatus, 401: ErrorReply } } }, async () => {
    const fleet = await views.fleet();
    return {
      calendars: fleet.calendars,
      channels: { ...fleet.channels, nextExpiration: fleet.channels.nextExpiration?.toISOString() ?? null },
      alerts: alerts ? await alerts() : [],
      ...(subscriptions ? { subscriptions: await subscriptions.counts() } : {}),
    };
  });
};
