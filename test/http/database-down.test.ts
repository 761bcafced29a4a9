import t from 'tap';
import { connectDatabase } from '../../src/db/connect.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../helpers/config.js';
import { testDbUri } from '../helpers/db.js';
import { TcpProxy, uriThroughProxy } from '../helpers/tcp-proxy.js';
import { ADMIN_TOKEN, AUTH } from '../helpers/push-harness.js';

t.test('with the database cut, the admin API and the dashboard answer 503 with a reason, and recover without a restart', async (t) => {
  const real = new URL(testDbUri('database-down'));
  const proxy = new TcpProxy(real.hostname, Number(real.port || 27017));
  await proxy.start();
  const conn = await connectDatabase(uriThroughProxy(real.toString(), proxy.port), { serverSelectionTimeoutMS: 1_000 });
  const app = await buildApp({ config: testConfig({ ADMIN_TOKEN, GOOGLE_CLIENT_ID: 'c', GOOGLE_CLIENT_SECRET: 's' }), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
    await proxy.stop();
  });

  const requests = [
    { method: 'GET' as const, url: '/admin/status' },
    { method: 'GET' as const, url: '/admin/calendars' },
    { method: 'POST' as const, url: '/admin/accounts', payload: { refreshToken: 'rt-database-down' } },
    { method: 'GET' as const, url: '/dashboard' },
  ];
  for (const r of requests) t.ok((await app.inject({ ...r, headers: AUTH })).statusCode < 300, `${r.method} ${r.url} works while the database answers`);

  await proxy.stop();
  // Twice: once while the driver may still believe it is connected (the queries' own errors map to
  // 503), once more after it has noticed (the fast path).
  for (const round of [1, 2]) {
    for (const r of requests) {
      const started = Date.now();
      const res = await app.inject({ ...r, headers: AUTH });
      t.comment(`round ${round}: ${r.method} ${r.url} → ${res.statusCode} in ${Date.now() - started} ms`);
      t.equal(res.statusCode, 503, `${r.method} ${r.url} → 503`);
      t.same(res.json(), { error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is not answering; try again shortly' } });
      t.equal(res.headers['retry-after'], '5');
    }
  }
  const anonymous = await app.inject({ method: 'GET', url: '/admin/status' });
  t.equal(anonymous.statusCode, 401, 'without the token the answer is still 401: nothing is revealed first');

  await proxy.start();
  let back = 0;
  for (let i = 0; i < 60 && back !== 200; i++) {
    back = (await app.inject({ method: 'GET', url: '/admin/status', headers: AUTH })).statusCode;
    if (back !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(back, 200, 'answers again once the database is back');
});
