import { pino } from 'pino';
import { loadConfig, ConfigError, type Config } from './config/env.js';
import { loggerOptions } from './logger.js';
import { connectDatabase } from './db/connect.js';
import { buildApp } from './app.js';

/** Time for closing (in-flight requests, running passes, leases) once any drain is over. */
const CLOSE_TIMEOUT_MS = 20_000;

/**
 * The production entry: validate config, connect the database, listen, and shut down gracefully.
 * Failures at boot print one clear line (no stack trace) and exit non-zero.
 */
function fail(message: string): never {
  process.stderr.write(`calsync: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log = pino(loggerOptions(config.logLevel));

  let conn;
  try {
    conn = await connectDatabase(config.mongodbUri);
  } catch (err) {
    fail(`cannot connect to MongoDB (MONGODB_URI): ${(err as Error).message}`);
  }

  const app = await buildApp({ config, conn, logger: log });

  let closing = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) return;
    closing = true;
    // SIGTERM is a rolling deploy or a scale-down: load balancers learn of it only from readiness, a
    // few seconds late, and meanwhile still send pings here. Those are answered as usual (recorded,
    // then 200) instead of 503, while /readyz says 503. SIGINT is someone at a terminal: no wait.
    const drainMs = signal === 'SIGTERM' ? config.shutdownDrainSeconds * 1000 : 0;
    const forced = setTimeout(() => {
      log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, drainMs + CLOSE_TIMEOUT_MS);
    forced.unref();
    if (drainMs > 0) {
      app.startDraining();
      log.info({ signal, drainMs }, 'shutting down: readiness answers 503 while requests are still served');
      await new Promise((resolve) => setTimeout(resolve, drainMs));
    }
    log.info({ signal }, 'shutting down: draining in-flight requests and work');
    try {
      await app.close();
      await conn.close();
      log.info('shutdown complete');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close().catch(() => undefined);
    await conn.close().catch(() => undefined);
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  app.services.startCron();
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
