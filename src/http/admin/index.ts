import type { FastifyPluginAsync } from 'fastify';
import type { AccountService } from '../../accounts/account-service.js';
import type { CalendarRegistry } from '../../calendars/calendar-registry.js';
import type { CalendarViews } from '../../calendars/calendar-views.js';
import type { Alert } from '../../ops/alerts.js';
import { accountRoutes } from './accounts.js';
import { bearerAuth } from './auth.js';
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
  changes?: ChangeFeed;
  subscriptions?: SubscriptionService;
}

/** The admin API (DESIGN.md §5) under /admin, every route behind the bearer token. */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', bearerAuth(opts.adminToken));
  await app.register(accountRoutes, { prefix: '/admin', accounts: opts.accounts, oauthClientConfigured: opts.oauthClientConfigured });
  await app.register(calendarRoutes, { prefix: '/admin', registry: opts.registry, views: opts.views });
  if (opts.changes) await app.register(changeRoutes, { prefix: '/admin', feed: opts.changes });
  if (opts.subscriptions) await app.register(subscriptionRoutes, { prefix: '/admin', subscriptions: opts.subscriptions });
  await app.register(statusRoutes, { prefix: '/admin', views: opts.views, subscriptions: opts.subscriptions, ...(opts.alerts ? { alerts: opts.alerts } : {}) });
};
