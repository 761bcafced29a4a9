// Preloaded into every test file (.taprc `node-arg`). When scripts/test.ts runs the tests on a
// SecantusDB of its own (CALSYNC_TEST_DB_PER_FILE=1), each test file gets a SecantusDB server of its
// own too, started here before the file's first line runs and killed when the file's process ends.
//
// Why: SecantusDB runs every database of a server in one Python process over one WiredTiger cache.
// Files sharing a server stall each other: a heavy writer beside them, or a reader pinning old data
// while others write, held every file on a shared server for minutes in CI (eleven 60 s timeouts
// in a row). A server per file keeps a stall inside the file that caused it.
//
// Processes a test starts (replicas, scripts) inherit CALSYNC_TEST_FILE_DB and share the file's
// server instead of starting their own.
import { startSecantusDb } from '../../scripts/lib/secantusdb.js';

if (process.env.CALSYNC_TEST_DB_PER_FILE === '1' && !process.env.CALSYNC_TEST_FILE_DB) {
  const db = await startSecantusDb(() => undefined, { ttlSweepSeconds: 0 });
  process.env.MONGODB_URI = db.uri;
  process.env.CALSYNC_TEST_FILE_DB = db.uri;
  // The server also dies with this process by itself (PR_SET_PDEATHSIG); this removes its data now.
  process.once('exit', () => db.kill?.());
}
