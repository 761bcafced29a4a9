// Chooses the database that tests and `npm run db` use (DESIGN.md §8, docs/database.md):
//   1. MONGODB_URI, when set: used as is and never stopped by us;
//   2. mongodb-memory-server, only when a mongod binary is already present (no download);
//   3. SecantusDB, installed by the project into .cache/ — the candidate whose guarantees
//      (atomic compare-and-set above all) match production MongoDB; see scripts/probe-databases.ts.
import { findMongod, startMemoryServer } from './memory-server.js';
import { startSecantusDb, type SecantusDbOptions } from './secantusdb.js';
import type { Log } from './child-server.js';

export interface LocalDb {
  uri: string;
  kind: 'env' | 'memory-server' | 'secantusdb' | 'ferretdb';
  /** Stops a database we started (idempotent); a no-op for MONGODB_URI. */
  stop(): Promise<void>;
  /** The last few KB a server we started printed. */
  output?(): string;
}

export interface StartLocalDbOptions {
  log?: Log;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Passed to a SecantusDB we start (see SecantusDbOptions). */
  secantusDb?: SecantusDbOptions;
}

const stderrLog: Log = (msg) => process.stderr.write(`[local-db] ${msg}\n`);

function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop());
}

export async function startLocalDb(opts: StartLocalDbOptions = {}): Promise<LocalDb> {
  const log = opts.log ?? stderrLog;
  const env = opts.env ?? process.env;

  const fromEnv = env.MONGODB_URI?.trim();
  if (fromEnv) {
    log('using MONGODB_URI from the environment');
    return { uri: fromEnv, kind: 'env', stop: async () => {} };
  }

  const mongod = await findMongod();
  if (mongod) {
    try {
      const db = await startMemoryServer(mongod, log);
      return { uri: db.uri, kind: 'memory-server', stop: once(db.stop) };
    } catch (err) {
      log(`mongodb-memory-server failed, falling back to SecantusDB: ${(err as Error).message}`);
    }
  } else {
    log('no mongod binary on this machine (cannot be downloaded here); using SecantusDB');
  }

  const db = await startSecantusDb(log, opts.secantusDb);
  return { uri: db.uri, kind: 'secantusdb', stop: once(db.stop), output: db.output };
}
