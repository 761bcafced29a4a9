import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CalendarViews } from '../../calendars/calendar-views.js';
import type { Alert } from '../../ops/alerts.js';
import { ErrorReply, FleetStatus } from './schemas.js';


export interface StatusRoutesOptions {
  views: CalendarViews;
  /** Active alerts; wired by the composition root once alerting exists. */
  alerts?: () => Promise<Alert[]>;
}

/** GET /admin/status: counts by sync state and delivery mode, channel expiry summary, active alerts. */
export const statusRoutes: FastifyPluginAsyncTypebox<StatusRoutesOptions> = async (app, { views, alerts }) => {
  app.get('/status', { schema: { response: { 200: FleetStatus, 401: ErrorReply } } }, async () => {
    const fleet = await views.fleet();
    return {
      calendars: fleet.calendars,
      channels: { ...fleet.channels, nextExpiration: fleet.channels.nextExpiration?.toISOString() ?? null },
      alerts: alerts ? await alerts() : [],
    };
  });
};
