import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connect.js';
import { testConfig } from '../helpers/config.js';
import { testDbUri } from '../helpers/db.js';

const ADMIN = 'test-admin-token-0123456789abcdefghijkl';
const AUTH = { authorization: `Bearer ${ADMIN}` };

async function app(t: Test, env: Record<string, string> = {}) {
  const uri = testDbUri('subscriptions-api');
  const conn = await connectDatabase(uri);
  const a = await buildApp({ config: testConfig({ MONGODB_URI: uri, ADMIN_TOKEN: ADMIN, ...env }), conn, logger: false });
  t.teardown(async () => {
    await a.close();
    await conn.dropDatabase();
    await conn.close();
  });
  return a;
}

t.test('subscriptions: the secret is shown once, never listed; hostile URLs are refused and nothing is stored', async (t) => {
  const a = await app(t);
  const refused = ['http://example.com/hook', 'https://127.0.0.1/hook', 'https://10.0.0.8/hook', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://localhost/x', 'https://u:p@example.com/x', 'ftp://example.com/', 'not a url', 'https://[fd00::1]/x', 'https://100.64.0.1/x'];
  for (const url of refused) {
    const res = await a.inject({ method: 'POST', url: '/admin/subscriptions', headers: AUTH, payload: { url } });
    t.equal(res.statusCode, 400, url);
    t.equal(res.json().error.code, 'INVALID_SUBSCRIBER_URL', url);
  }
  t.equal((await a.inject({ method: 'POST', url: '/admin/subscriptions', headers: AUTH, payload: { url: 'https://93.184.216.34/x', types: ['moved'] } })).statusCode, 400, 'unknown type');
  t.same((await a.inject({ url: '/admin/subscriptions', headers: AUTH })).json(), { subscriptions: [] }, 'nothing stored');
  t.equal((await a.inject({ url: '/admin/subscriptions' })).statusCode, 401);

  const created = await a.inject({ method: 'POST', url: '/admin/subscriptions', headers: AUTH, payload: { url: 'https://93.184.216.34/hooks', types: ['created'] } });
  t.equal(created.statusCode, 201);
  const { id, secret } = created.json();
  t.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  const listed = await a.inject({ url: '/admin/subscriptions', headers: AUTH });
  t.match(listed.json().subscriptions, [{ id, url: 'https://93.184.216.34/hooks', types: ['created'], state: 'active', attempts: 0 }]);
  t.notOk(listed.body.includes(secret.slice(6)), 'the secret is never listed');
  const stored = JSON.stringify(await a.services.subscriptions.Subscription.findById(id).lean());
  t.notOk(stored.includes(secret.slice(6)), 'the secret is stored sealed');
  const status = (await a.inject({ url: '/admin/status', headers: AUTH })).json();
  t.same(status.subscriptions, { active: 1, failing: 0 });
  t.match((await a.inject({ url: '/metrics' })).body, /calsync_subscriptions_failing 0/);
  t.equal((await a.inject({ method: 'POST', url: `/admin/subscriptions/${id}/enable`, headers: AUTH })).statusCode, 202);
  t.equal((await a.inject({ method: 'DELETE', url: `/admin/subscriptions/${id}`, headers: AUTH })).statusCode, 204);
  t.equal((await a.inject({ method: 'DELETE', url: `/admin/subscriptions/${id}`, headers: AUTH })).statusCode, 404);
});

t.test('http to loopback is accepted only when SUBSCRIPTIONS_ALLOW_LOOPBACK is on', async (t) => {
  const a = await app(t, { SUBSCRIPTIONS_ALLOW_LOOPBACK: 'true' });
  t.equal((await a.inject({ method: 'POST', url: '/admin/subscriptions', headers: AUTH, payload: { url: 'http://127.0.0.1:9/x' } })).statusCode, 201);
  t.equal((await a.inject({ method: 'POST', url: '/admin/subscriptions', headers: AUTH, payload: { url: 'http://10.1.2.3/x' } })).statusCode, 400, 'private still refused');
});
