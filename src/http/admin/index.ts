import type { FastifyPluginAsync } from 'fastify';
import type { Connection } from 'mongoose';
import { ensureDatabaseConnected } from '../../db/database-unavailable.js';
import type { AccountService } from '../../accounts/account-service.js';
import type { CalendarRegistry } from '../../calendars/calendar-registry.js';
import type { CalendarViews } from '../../calendars/calendar-views.js';
import type { Alert } from '../../ops/alerts.js';
import { accountRoutes } from './accounts.js';
import { registerBearerVerifier, requireAdmin } from './auth.js';
import { calendarRoutes } from './calendars.js';
import { changeRoutes } from './changes.js';
import { subscriptionRoutes } from './subscriptions.js';
import type { SubscriptionService } from '../../subscriptions/subscription-service.js';
import type { ChangeFeed } from '../../changes/change-feed.js';
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
  changes?: ChangeFeed;
  subscriptions?: SubscriptionService;
  /** Calendar discovery: a policy change asks for a pass. */
  discovery?: { requestDiscovery(accountId: string, reason: string): Promise<unknown> };
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
        reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } }),
      );
      await admin.register(accountRoutes, { accounts: opts.accounts, oauthClientConfigured: opts.oauthClientConfigured, discovery: opts.discovery });
      await admin.register(calendarRoutes, { registry: opts.registry, views: opts.views });
      if (opts.changes) await admin.register(changeRoutes, { feed: opts.changes });
      if (opts.subscriptions) await admin.register(subscriptionRoutes, { subscriptions: opts.subscriptions });
      await admin.register(statusRoutes, { views: opts.views, subscriptions: opts.subscriptions, ...(opts.alerts ? { alerts: opts.alerts } : {}) });
    },
    { prefix: '/admin' },
  );
};
