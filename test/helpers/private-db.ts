import { startSecantusDb } from '../../scripts/lib/secantusdb.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * The database base URI for a test file heavy enough to stall the shared test database. SecantusDB
 * serializes writes per collection in one process, so a file writing thousands of documents makes
 * every file running beside it wait (60 s timeouts in CI). When scripts/test.ts started that shared
 * SecantusDB itself (CALSYNC_TEST_PRIVATE_DB=1), such a file gets a SecantusDB process of its own,
 * stopped at teardown; with a MONGODB_URI given by the user (a real MongoDB), it shares that one.
 */
export async function heavyTestDbBase(t: Teardown): Promise<string | undefined> {
  if (process.env.CALSYNC_TEST_PRIVATE_DB !== '1') return undefined;
  const db = await startSecantusDb(() => undefined, { ttlSweepSeconds: 0 });
  t.teardown(() => db.stop());
  return db.uri;
}
