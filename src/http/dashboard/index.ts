import fastifyHelmet from '@fastify/helmet';
import { ensureDatabaseConnected } from '../../db/database-unavailable.js';
import { Type, type FastifyPluginAsyncTypebox, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SYNC_STATES } from '../../models/calendar.js';
import { evaluateAlerts, summarizeLastHour } from '../../ops/alerts.js';
import { recentRuns } from '../../ops/recent-runs.js';
import { syncBucketModel } from '../../ops/sync-buckets.js';
import { backfillSyncBuckets } from '../../ops/sync-history-backfill.js';
import { syncHistory } from '../../ops/sync-history.js';
import { RecentSnapshot } from '../../ops/recent-snapshot.js';
import type { Services } from '../../services.js';
import { HttpError, toHttpError } from '../admin/errors.js';
import { loadAssets } from './assets.js';
import { protectDashboard } from './auth.js';
import { calendarPage, overviewPage } from './pages.js';

/** Calendars per dashboard page: one indexed query each, whatever the fleet size. */
export const DASHBOARD_PAGE_SIZE = 100;
/** Accounts to reconnect shown on the overview at most (GET /admin/accounts lists them all). */
const RECONNECT_LIST_LIMIT = 20;

/**
 * The fleet counts cost O(fleet) (docs/operations.md, "Dashboard"): each replica keeps the last
 * ones and serves them while younger than this, refreshing in the background while the dashboard
 * is viewed, up to FLEET_COUNTS_STALE_LIMIT_MS; past that a view waits for fresh counts.
 */
export const FLEET_COUNTS_MAX_AGE_MS = 30_000;
export const FLEET_COUNTS_STALE_LIMIT_MS = 5 * 60_000;

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(SYNC_STATES.map((s) => Type.Literal(s)))),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

/**
 * The ops pages under /dashboard: the last 24 h as charts, the fleet, one page of calendars at a
 * time (filterable by state), and a page per calendar. Everything (pages and assets) needs the
 * admin token; helmet sets a CSP without inline script or style, frame-ancestors 'none' and
 * nosniff, and nothing here may be cached.
 */
export const dashboardRoutes: FastifyPluginAsyncTypebox<{ adminToken: string; services: Services }> = async (app, { adminToken, services }) => {
  const assets = loadAssets();
  const Bucket = syncBucketModel(services.SyncRun.db);
  const fleetCounts = new RecentSnapshot(() => services.views.fleet(), {
    maxAgeMs: FLEET_COUNTS_MAX_AGE_MS,
    staleLimitMs: FLEET_COUNTS_STALE_LIMIT_MS,
    onBackgroundError: (err) => app.log.warn({ err }, 'could not refresh the dashboard fleet counts'),
  });
  // Runs recorded before the chart buckets existed are counted into them once per database, on the
  // first view (a failed attempt is retried by the next view).
  let backfill: Promise<unknown> | null = null;
  const chartHistory = async (now: number) => {
    backfill ??= backfillSyncBuckets(services.SyncRun.db, services.SyncRun, Bucket, now).catch((err: unknown) => {
      backfill = null;
      throw err;
    });
    await backfill;
    return syncHistory(Bucket, { now });
  };
  await app.register(
    async (instance) => {
      const dash = instance.withTypeProvider<TypeBoxTypeProvider>();
      await dash.register(fastifyHelmet, {
        contentSecurityPolicy: {
          useDefaults: false,
          directives: {
            defaultSrc: ["'none'"],
            scriptSrc: ["'self'"],
            styleSrc: ["'self'"],
            imgSrc: ["'self'", 'data:'],
            connectSrc: ["'self'"],
            baseUri: ["'none'"],
            formAction: ["'self'"],
            frameAncestors: ["'none'"],
          },
        },
      });
      dash.addHook('onSend', async (_req, reply) => {
        reply.header('cache-control', 'no-store');
      });
      await protectDashboard(dash, adminToken);
      // After auth: 503 at once while the database is known to be disconnected.
      dash.addHook('preHandler', async () => ensureDatabaseConnected(services.models.Calendar.db));
      dash.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such dashboard page' } }));

      dash.get('/', { schema: { querystring: ListQuery } }, async (req, reply) => {
        const now = Date.now();
        const { state, cursor } = req.query;
        const [page, fleet, hour, history] = await Promise.all([
          services.views.page({ limit: DASHBOARD_PAGE_SIZE, state, cursor }).catch((err: unknown) => {
            throw toHttpError(err);
          }),
          fleetCounts.get(),
          summarizeLastHour(services.SyncRun, new Date(now)),
          chartHistory(now),
        ]);
        const reconnect = await services.accounts.needingReconnection(RECONNECT_LIST_LIMIT);
        const html = overviewPage({ now, alerts: evaluateAlerts(hour), hour, fleet: fleet.value, fleetAsOf: fleet.asOf, history, page, state, cursor, reconnect });
        return reply.type('text/html; charset=utf-8').send(html);
      });

      dash.get('/calendars/:id', { schema: { params: Type.Object({ id: Type.String({ pattern: '^[0-9a-fA-F]{24}$' }) }) } }, async (req, reply) => {
        const calendar = await services.views.get(req.params.id);
        if (!calendar) throw new HttpError(404, 'CALENDAR_NOT_FOUND', 'calendar not found');
        const [runs, failures] = await Promise.all([
          recentRuns(services.SyncRun, calendar.id, { limit: 50 }),
          recentRuns(services.SyncRun, calendar.id, { limit: 20, failedOnly: true }),
        ]);
        return reply.type('text/html; charset=utf-8').send(calendarPage({ now: Date.now(), calendar, runs, failures }));
      });

      dash.get('/assets/:name', { schema: { params: Type.Object({ name: Type.String({ maxLength: 100 }) }) } }, async (req, reply) => {
        const asset = assets.get(req.params.name);
        if (!asset) throw new HttpError(404, 'NOT_FOUND', 'no such asset');
        return reply.type(asset.contentType).send(asset.body);
      });
    },
    { prefix: '/dashboard' },
  );
};
