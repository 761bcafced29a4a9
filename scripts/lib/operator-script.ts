// The frame of an operator script run by cron or by hand (renew-channels, rotate-keys): load and
// validate the config, connect to MongoDB, run the job, print one line. Stdout carries only that
// line; anything wrong is one line on stderr and exit 1, so cron mail and CI logs stay readable.
import type { Connection } from 'mongoose';
import { ConfigError, loadConfig, type Config } from '../../src/config/env.js';
import { connectDatabase } from '../../src/db/connect.js';

/**
 * Runs `job` with a validated config and an open connection. It resolves to the summary printed after
 * "ok:", or throws an Error whose message is the one-line reason.
 */
export function runOperatorScript(name: string, job: (config: Config, conn: Connection) => Promise<string>): void {
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  };
  const main = async (): Promise<string> => {
    let config: Config;
    try {
      config = loadConfig();
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message.replace(/\n\s*/g, ' '));
      throw err;
    }
    let conn: Connection;
    try {
      conn = await connectDatabase(config.mongodbUri);
    } catch (err) {
      return fail(`cannot connect to MongoDB (MONGODB_URI): ${(err as Error).message}`);
    }
    try {
      return await job(config, conn);
    } finally {
      await conn.close().catch(() => undefined);
    }
  };
  main().then(
    (summary) => {
      process.stdout.write(`${name}: ok: ${summary}\n`);
      process.exit(0);
    },
    (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
  );
}
