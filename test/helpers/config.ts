import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/env.js';

/** A valid environment for tests; override any variable. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/calsync-test',
    PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
    ADMIN_TOKEN: 'test-admin-token-0123456789abcdefghijkl',
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GOOGLE_API_ROOT_URL: 'http://127.0.0.1:1/',
    GOOGLE_OAUTH_TOKEN_URL: 'http://127.0.0.1:1/token',
    GOOGLE_CLIENT_ID: 'test-client',
    GOOGLE_CLIENT_SECRET: 'test-secret',
    CRON_ENABLED: 'false',
    // Tests sync back to back on purpose; pacing has its own test.
    SYNC_MIN_INTERVAL_MS: '0',
    // A failed calendar may be synced again at once (tests retry by hand).
    SYNC_RETRY_AFTER_FAILURE_SECONDS: '0',
    LOG_LEVEL: 'silent',
    // Budgets out of reach: the quota governor has its own tests (test/quota).
    QUOTA_PER_USER_PER_MINUTE: '1000000',
    QUOTA_PER_PROJECT_PER_MINUTE: '100000000',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}
