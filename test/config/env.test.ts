import t from 'tap';
import { loadConfig, ConfigError } from '../../src/config/env.js';
import { testEnv } from '../helpers/config.js';

t.test('a valid environment yields typed config with documented defaults', async (t) => {
  const env = testEnv();
  delete (env as Record<string, string | undefined>).CRON_ENABLED;
  const c = loadConfig(env);
  t.equal(c.port, 3000);
  t.equal(c.host, '0.0.0.0');
  t.equal(c.sync.incrementalEnabled, true);
  t.equal(c.cronEnabled, true);
  t.equal(c.sync.windowPastDays, 30);
  t.equal(c.sync.windowFutureDays, 90);
  t.equal(c.channels.ttlSeconds, 48 * 3600);
  t.equal(c.channels.renewLeadSeconds, 24 * 3600);
  t.equal(c.encryptionKey.length, 32);
  t.equal(c.google.apiRootUrl, 'http://127.0.0.1:1/');
});

t.test('several bad values are all named in one error', async (t) => {
  const err = t.throws(() =>
    loadConfig(
      testEnv({
        MONGODB_URI: 'postgres://nope',
        PORT: 'eighty',
        ADMIN_TOKEN: 'short',
        ENCRYPTION_KEY: 'not-32-bytes',
        INCREMENTAL_SYNC_ENABLED: 'perhaps',
        LOG_LEVEL: 'loud',
        CRON_RENEW_SCHEDULE: 'every tuesday',
      }),
    ),
  ) as ConfigError;
  t.ok(err instanceof ConfigError);
  for (const name of ['MONGODB_URI', 'PORT', 'ADMIN_TOKEN', 'ENCRYPTION_KEY', 'INCREMENTAL_SYNC_ENABLED', 'LOG_LEVEL', 'CRON_RENEW_SCHEDULE']) {
    t.ok(err.problems.some((p) => p.startsWith(name)), `${name} is named`);
  }
  t.equal(err.problems.length, 7);
});

t.test('missing required values are named', async (t) => {
  const err = t.throws(() => loadConfig({})) as ConfigError;
  for (const name of ['MONGODB_URI', 'PUBLIC_BASE_URL', 'ADMIN_TOKEN', 'ENCRYPTION_KEY']) {
    t.ok(err.problems.some((p) => p.startsWith(`${name} is required`)), `${name} is required`);
  }
});

t.test('the error never echoes a secret value', async (t) => {
  const err = t.throws(() => loadConfig(testEnv({ ADMIN_TOKEN: 'sekrit', ENCRYPTION_KEY: 'hunter2hunter2' }))) as ConfigError;
  t.notMatch(err.message, /sekrit|hunter2/);
});

t.test('plain http PUBLIC_BASE_URL is refused against real Google, together with other problems', async (t) => {
  const env = testEnv({ PUBLIC_BASE_URL: 'http://calsync.example.com', PORT: '-1' });
  delete (env as Record<string, string | undefined>).GOOGLE_API_ROOT_URL;
  const err = t.throws(() => loadConfig(env)) as ConfigError;
  t.ok(err.problems.some((p) => p.startsWith('PUBLIC_BASE_URL must be https')));
  t.ok(err.problems.some((p) => p.startsWith('PORT')));
  t.ok(loadConfig({ ...env, PORT: '3000', PUBLIC_BASE_URL: 'https://calsync.example.com' }));
});

t.test('booleans accept the usual spellings', async (t) => {
  t.equal(loadConfig(testEnv({ INCREMENTAL_SYNC_ENABLED: 'no' })).sync.incrementalEnabled, false);
  t.equal(loadConfig(testEnv({ INCREMENTAL_SYNC_ENABLED: '1' })).sync.incrementalEnabled, true);
  t.equal(loadConfig(testEnv({ CRON_ENABLED: 'FALSE' })).cronEnabled, false);
});

t.test('a renewal lead as long as the channel TTL is refused', async (t) => {
  const err = t.throws(() => loadConfig(testEnv({ CHANNEL_TTL_SECONDS: '3600', CHANNEL_RENEW_LEAD_SECONDS: '3600' }))) as ConfigError;
  t.same(err.problems, ['CHANNEL_RENEW_LEAD_SECONDS must be less than CHANNEL_TTL_SECONDS']);
  t.equal(loadConfig(testEnv({ CHANNEL_TTL_SECONDS: '3600', CHANNEL_RENEW_LEAD_SECONDS: '600' })).channels.renewLeadSeconds, 600);
});

t.test('proxy trust is off unless proxy addresses are given, and bad addresses are refused', async (t) => {
  t.same(loadConfig(testEnv()).trustProxy, []);
  t.same(loadConfig(testEnv({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' })).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  const err = t.throws(() => loadConfig(testEnv({ TRUST_PROXY: 'true' }))) as ConfigError;
  t.match(err.problems[0], /^TRUST_PROXY must be a comma-separated list/);
});

t.test('ENCRYPTION_KEYS lists the current key first, then previous ones; ENCRYPTION_KEY alone is one key', async (t) => {
  const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
  const env = testEnv({ ENCRYPTION_KEYS: ` ${a.toString('base64')} , ${b.toString('base64')}` });
  delete (env as Record<string, string | undefined>).ENCRYPTION_KEY;
  const c = loadConfig(env);
  t.same(c.encryptionKeys, [a, b]);
  t.same(c.encryptionKey, a, 'the current key is the first');
  const single = loadConfig(testEnv({ ENCRYPTION_KEY: b.toString('base64') }));
  t.same(single.encryptionKeys, [b]);
  t.same(loadConfig(testEnv({ ENCRYPTION_KEY: b.toString('base64'), ENCRYPTION_KEYS: `${a.toString('base64')},${b.toString('base64')}` })).encryptionKeys, [a, b], 'both may be set when they agree');
});

t.test('bad ENCRYPTION_KEYS are refused without echoing a key', async (t) => {
  const a = Buffer.alloc(32, 7).toString('base64');
  const cases: [Record<string, string>, RegExp][] = [
    [{ ENCRYPTION_KEYS: `${a},hunter2hunter2` }, /^ENCRYPTION_KEYS must be comma-separated keys/],
    [{ ENCRYPTION_KEYS: `${a},${a}` }, /^ENCRYPTION_KEYS lists the same key twice/],
    [{ ENCRYPTION_KEYS: a, ENCRYPTION_KEY: Buffer.alloc(32, 8).toString('base64') }, /^ENCRYPTION_KEY is not one of ENCRYPTION_KEYS/],
  ];
  for (const [overrides, problem] of cases) {
    const env = testEnv(overrides);
    if (!overrides.ENCRYPTION_KEY) delete (env as Record<string, string | undefined>).ENCRYPTION_KEY;
    const err = t.throws(() => loadConfig(env)) as ConfigError;
    t.ok(err.problems.some((p) => problem.test(p)), String(problem));
    t.notMatch(err.message, a);
    t.notMatch(err.message, /hunter2/);
  }
});
