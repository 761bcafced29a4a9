import { randomBytes } from 'node:crypto';
import path from 'node:path';

const URI = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/([^?]*))?(\?.*)?$/;

/**
 * The test database URI (MONGODB_URI, set by scripts/test.ts) with its database name swapped
 * for one unique to the caller, so test files running in parallel never share data.
 * Keeps the query string (e.g. ?directConnection=true). Pass a readable name, such as the
 * test file's: `testDbUri(import.meta.url)` or `testDbUri('sync-engine')`.
 */
export function testDbUri(name: string, baseUri = process.env.MONGODB_URI): string {
  if (!baseUri) throw new Error('MONGODB_URI is not set: run tests with `npm test` (scripts/test.ts)');
  const m = URI.exec(baseUri);
  if (!m) throw new Error(`MONGODB_URI is not a mongodb:// URI: ${baseUri}`);
  const [, authority, , query = ''] = m;
  const base = path.basename(name).replace(/\.[cm]?[jt]s$/, '').replace(/\.test$/, '');
  // MongoDB database names: at most 63 bytes, none of /\. "$ and no spaces.
  const safe = base.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${authority}/t_${safe}_${randomBytes(4).toString('hex')}${query}`;
}
