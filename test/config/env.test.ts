import t from 'tap';
import { randomBytes } from 'node:crypto';
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

t.test('secrets that cannot be secret are refused: blank, repeated, patterned, or not sendable as a Bearer token', async (t) => {
  const weakTokens = [' '.repeat(32), 'a'.repeat(40), 'ab'.repeat(20), 'token with spaces 0123456789abcdefghij', 'tøken-0123456789abcdefghijklmnopqrstu', 'token"0123456789abcdefghijklmnopqrstu'];
  for (const ADMIN_TOKEN of weakTokens) {
    const err = t.throws(() => loadConfig(testEnv({ ADMIN_TOKEN }))) as ConfigError;
    t.ok(err.problems.some((p) => p.startsWith('ADMIN_TOKEN')), `ADMIN_TOKEN ${JSON.stringify(ADMIN_TOKEN.slice(0, 8))}… is refused`);
  }
  for (const ENCRYPTION_KEY of [Buffer.alloc(32).toString('base64'), Buffer.alloc(32, 0xff).toString('base64'), Buffer.from('0123456789'.repeat(4).slice(0, 32)).toString('base64')]) {
    const err = t.throws(() => loadConfig(testEnv({ ENCRYPTION_KEY }))) as ConfigError;
    t.ok(err.problems.some((p) => p.startsWith('ENCRYPTION_KEY')), `ENCRYPTION_KEY ${ENCRYPTION_KEY.slice(0, 6)}… is refused`);
  }
  // What the docs tell operators to run is accepted.
  t.ok(loadConfig(testEnv({ ADMIN_TOKEN: randomBytes(32).toString('base64'), ENCRYPTION_KEY: randomBytes(32).toString('base64') })));
  t.ok(loadConfig(testEnv({ ADMIN_TOKEN: randomBytes(16).toString('hex') })));
  t.ok(loadConfig(testEnv({ ADMIN_TOKEN: randomBytes(24).toString('base64url') })));
});

t.test('URLs are judged as parsed: scheme case, port and host spelling cannot slip past the https check', async (t) => {
  const realGoogle = (overrides: Record<string, string>) => {
    const env = testEnv({ PUBLIC_BASE_URL: 'https://calsync.example.com', ...overrides });
    return env;
  };
  for (const GOOGLE_API_ROOT_URL of ['HTTPS://WWW.GOOGLEAPIS.COM/', 'https://www.googleapis.com:443', 'https://www.googleapis.com./', 'https://www.googleapis.com/']) {
    const err = t.throws(() => loadConfig(realGoogle({ GOOGLE_API_ROOT_URL, PUBLIC_BASE_URL: 'HTTP://calsync.example.com' }))) as ConfigError;
    t.same(err.problems, ['PUBLIC_BASE_URL must be https:// when GOOGLE_API_ROOT_URL is Google (http is allowed only against the emulator)'], GOOGLE_API_ROOT_URL);
    t.equal(loadConfig(realGoogle({ GOOGLE_API_ROOT_URL })).google.apiRootUrl.toLowerCase(), loadConfig(realGoogle({ GOOGLE_API_ROOT_URL })).google.apiRootUrl);
  }
  const plainGoogle = t.throws(() => loadConfig(realGoogle({ GOOGLE_API_ROOT_URL: 'http://www.googleapis.com/' }))) as ConfigError;
  t.same(plainGoogle.problems, ['GOOGLE_API_ROOT_URL must be https:// for Google']);

  const c = loadConfig(realGoogle({ PUBLIC_BASE_URL: 'HTTPS://Calsync.Example.COM:443/hooks/', GOOGLE_API_ROOT_URL: 'HTTPS://WWW.GOOGLEAPIS.COM:443' }));
  t.equal(c.publicBaseUrl, 'https://calsync.example.com/hooks', 'the webhook base is normalised');
  t.equal(c.google.apiRootUrl, 'https://www.googleapis.com/');

  for (const PUBLIC_BASE_URL of ['https://calsync.example.com/?a=1', 'https://calsync.example.com/#frag', 'https://calsync.example.com?', 'https://user:pw@calsync.example.com', 'ftp://calsync.example.com']) {
    const err = t.throws(() => loadConfig(realGoogle({ PUBLIC_BASE_URL }))) as ConfigError;
    t.ok(err.problems.some((p) => p.startsWith('PUBLIC_BASE_URL must be an http(s) URL without query or fragment')), PUBLIC_BASE_URL);
  }
});

t.test('TRUST_PROXY prefixes must fit the address family, and every bad value is named in one error', async (t) => {
  t.same(loadConfig(testEnv({ TRUST_PROXY: '10.0.0.0/32,2001:db8::/128,::1' })).trustProxy, ['10.0.0.0/32', '2001:db8::/128', '::1']);
  for (const TRUST_PROXY of ['10.0.0.0/999', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8/8', '10.0.0.0/']) {
    const err = t.throws(() => loadConfig(testEnv({ TRUST_PROXY }))) as ConfigError;
    t.match(err.problems[0], /^TRUST_PROXY must be a comma-separated list/, TRUST_PROXY);
  }
  const all = t.throws(() =>
    loadConfig(testEnv({ TRUST_PROXY: '10.0.0.0/999', ADMIN_TOKEN: 'x'.repeat(32), ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'), PUBLIC_BASE_URL: 'http://h/?q' })),
  ) as ConfigError;
  t.same(all.problems.map((p) => p.split(' ')[0]), ['ADMIN_TOKEN', 'ENCRYPTION_KEY', 'PUBLIC_BASE_URL', 'TRUST_PROXY']);
  t.match(all.message, /^invalid configuration:/);
});

t.test('ENCRYPTION_KEYS lists the current key first, then previous ones; ENCRYPTION_KEY alone is one key', async (t) => {
  const [a, b] = [randomBytes(32), randomBytes(32)];
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

t.test('CRON_DISCOVERY_SCHEDULE: hourly by default, a bad expression is refused at boot', async (t) => {
  t.equal(loadConfig(testEnv()).cron.discoverySchedule, '23 * * * *');
  t.equal(loadConfig(testEnv({ CRON_DISCOVERY_SCHEDULE: '*/30 * * * *' })).cron.discoverySchedule, '*/30 * * * *');
  const err = t.throws(() => loadConfig(testEnv({ CRON_DISCOVERY_SCHEDULE: 'hourly-ish' }))) as ConfigError;
  t.ok(err.problems.some((p) => p.startsWith('CRON_DISCOVERY_SCHEDULE')), 'named in the error');
});

t.test('SHUTDOWN_DRAIN_SECONDS: 5 by default, 0 turns it off, over 20 is refused at boot', async (t) => {
  t.equal(loadConfig(testEnv()).shutdownDrainSeconds, 5);
  t.equal(loadConfig(testEnv({ SHUTDOWN_DRAIN_SECONDS: '0' })).shutdownDrainSeconds, 0);
  for (const bad of ['21', '-1', 'soon']) {
    const err = t.throws(() => loadConfig(testEnv({ SHUTDOWN_DRAIN_SECONDS: bad }))) as ConfigError;
    t.ok(err.problems.some((p) => p.startsWith('SHUTDOWN_DRAIN_SECONDS')), `${bad}: named in the error`);
  }
});

t.test('CRON_JITTER_SECONDS: 10 by default, 0 turns it off, out of range is refused at boot', async (t) => {
  t.equal(loadConfig(testEnv()).cron.jitterSeconds, 10);
  t.equal(loadConfig(testEnv({ CRON_JITTER_SECONDS: '0' })).cron.jitterSeconds, 0);
  for (const bad of ['-1', '601', 'soon']) {
    const err = t.throws(() => loadConfig(testEnv({ CRON_JITTER_SECONDS: bad }))) as ConfigError;
    t.ok(err.problems.some((p) => p.startsWith('CRON_JITTER_SECONDS')), `${bad}: named in the error`);
  }
});
