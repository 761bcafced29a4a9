import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Connection } from 'mongoose';
import type { Logger } from 'pino';
import type { Config } from './config/env.js';
import { loggerOptions } from './logger.js';
import { createServices, type ServiceOverrides, type Services } from './services.js';
import { healthRoutes } from './http/health.js';
import { errorHandler } from './http/errors.js';
import { bodyStrictSchemaController } from './http/validation.js';
import { clientErrorHandler, frameworkErrors } from './http/client-errors.js';
import { notFoundHandler } from './http/not-found.js';
import { metricsRoutes } from './http/metrics.js';
import { webhookRoutes } from './http/webhook.js';
import { adminRoutes } from './http/admin/index.js';
import { dashboardRoutes } from './http/dashboard/index.js';
import { connectRoutes } from './http/connect.js';
import { linkKey } from './connect/connect-link.js';

export interface BuildAppOptions {
  config: Config;
  conn: Connection;
  /** Override the logger (tests pass false). Defaults to pino at config.logLevel with secrets redacted. */
  logger?: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance'];
  /** Test seams for the domain services (client builder, engine knobs, clock). */
  overrides?: ServiceOverrides;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Readiness answers 503 from now on; requests and work go on until `close()`. */
    startDraining(): void;
  }
}

/**
 * The app factory: routes and plugins, never `listen`. The server entry and the tests both build the
 * app here, so what the tests inject into is what production runs.
 */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config, conn } = opts;
  const isInstance = typeof opts.logger === 'object' && opts.logger !== null && 'child' in opts.logger;
  const app = Fastify({
    ...(isInstance
      ? { loggerInstance: opts.logger as FastifyServerOptions['loggerInstance'] }
      : { logger: (opts.logger as FastifyServerOptions['logger']) ?? loggerOptions(config.logLevel) }),
    // Pings and admin calls are small; a large body is an attack or a mistake.
    bodyLimit: 1024 * 1024,
    // Only known proxies may set the client address: otherwise anyone could pick their own
    // X-Forwarded-For and dodge the per-source webhook rate limit.
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    return503OnClosing: true,
    // A field we do not know is a client mistake worth hearing about, not something to drop quietly.
    ajv: { customOptions: { removeAdditional: false } },
    // JSON bodies are validated as sent: no type coercion (query strings still parse numbers).
    schemaController: bodyStrictSchemaController(),
    // Malformed requests answer in the API's error shape and never log their raw bytes.
    clientErrorHandler,
    frameworkErrors,
  }) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler);

  // Fastify's logger is pino underneath; the domain takes it as pino's Logger.
  const services = createServices(config, conn, app.log as unknown as Logger, opts.overrides);
  app.decorate('services', services);
  // Every replica works due syncs, whoever recorded them; the cron is started by the server entry.
  app.addHook('onReady', async () => services.startWorkers());
  app.addHook('onClose', async () => services.close());

  let draining = false;
  app.decorate('startDraining', () => {
    draining = true;
  });
  await app.register(healthRoutes, { conn, draining: () => draining });
  await app.register(metricsRoutes, { services });
  await app.register(webhookRoutes, {
    receiver: services.receiver,
    metrics: services.webhookMetrics,
    rateLimit: { perSource: config.webhook.rateLimitPerSource, global: config.webhook.rateLimitGlobal },
  });
  await app.register(adminRoutes, {
    adminToken: config.adminToken,
    oauthClientConfigured: config.google.clientId !== '' && config.google.clientSecret !== '',
    accounts: services.accounts,
    registry: services.registry,
    views: services.views,
    alerts: services.alerts,
    conn,
    changes: services.changeFeed,
    subscriptions: services.subscriptions,
    discovery: services.discovery,
  });
  await app.register(dashboardRoutes, { adminToken: config.adminToken, services });
  await app.register(connectRoutes, {
    adminToken: config.adminToken,
    linkKey: linkKey(config.connect.linkSecret),
    publicBaseUrl: config.publicBaseUrl,
    connect: services.connect,
    secureCookie: config.connect.redirectUrl.startsWith('https:'),
    now: opts.overrides?.now,
  });
  app.setNotFoundHandler(notFoundHandler({ adminToken: config.adminToken, webhookMetrics: services.webhookMetrics }));
  return app;
}
