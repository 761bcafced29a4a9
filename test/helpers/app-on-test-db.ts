import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connect.js';
import { testConfig } from './config.js';
import { testDbUri } from './db.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The whole app (not listening) on a database of its own, closed and dropped at teardown. */
export async function appOnTestDb(t: Teardown, name: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const conn = await connectDatabase(testDbUri(name));
  const app = await buildApp({ config: testConfig(env), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.dropDatabase();
    await conn.close();
  });
  return app;
}
