import type { FastifyPluginAsync } from 'fastify';
import type { Connection } from 'mongoose';
import { ensureDatabaseConnected } from '../database-unavailable.js';
import type { AccountService } from '../../accounts/account-service.js';
import type { CalendarRegistry } from '../../calendars/calendar-registry.js';
import type { CalendarViews } from '../../calendars/calendar-views.js';
import type { Alert } from '../../ops/alerts.js';
import { accountRoutes } from './accounts.js';
import { registerBearerVerifier, requireAdmin } from './auth.js';
import { calendarRoutes } from './calendars.js';
import { statusRoutes } from './status.js';

export interface AdminRoutesOptions {
  adminToken: string;
  oauthClientConfigured: boolean;
  accounts: AccountService;
  registry: CalendarRegistry;
  views: CalendarViews;
  alerts?: () => Promise<Alert[]>;
  /** When given, a request meets a 503 at once while the database is known to be disconnected. */
  conn?: Connection;
}

/** The admin API (DESIGN.md §5) under /admin, every route (and every unknown path) behind the bearer token. */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, opts) => {
  await app.register(
    async (admin) => {
      await registerBearerVerifier(admin, opts.adminToken);
      admin.addHook('onRequest', requireAdmin(() => admin.verifyBearerAuth!, 'Bearer', 'a valid admin bearer token is required'));
      // After auth: a caller without the token learns nothing, not even that the database is down.
      if (opts.conn) admin.addHook('preHandler', async () => ensureDatabaseConnected(opts.conn!));
      admin.setNotFoundHandler((_req, reply) =>
        reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such admin route' } }),
      );
      await admin.register(accountRoutes, { accounts: opts.accounts, oauthClientConfigured: opts.oauthClientConfigured });
      await admin.register(calendarRoutes, { registry: opts.registry, views: opts.views });
      await admin.register(statusRoutes, { views: opts.views, ...(opts.alerts ? { alerts: opts.alerts } : {}) });
    },
    { prefix: '/admin' },
  );
};
