import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Connection } from 'mongoose';
import type { Config } from './config/env.js';
import { loggerOptions } from './logger.js';
import { healthRoutes } from './http/health.js';
import { errorHandler } from './http/errors.js';

export interface BuildAppOptions {
  config: Config;
  conn: Connection;
  /** Override the logger (tests pass false). Defaults to pino at config.logLevel with secrets redacted. */
  logger?: FastifyServerOptions['logger'];
}

/**
 * The app factory: routes and plugins, never `listen`. The server entry and the tests both build the
 * app here, so what the tests inject into is what production runs.
 */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(opts.config.logLevel),
    // Pings and admin calls are small; a large body is an attack or a mistake.
    bodyLimit: 1024 * 1024,
    trustProxy: true,
    return503OnClosing: true,
  });
  app.setErrorHandler(errorHandler);
  await app.register(healthRoutes, { conn: opts.conn });
  return app;
}
