import t from 'tap';
import { connectDatabase } from '../../src/db/connect.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../helpers/config.js';
import { testDbUri } from '../helpers/db.js';
import { TcpProxy, uriThroughProxy } from '../helpers/tcp-proxy.js';

t.test('healthz answers while the process runs', async (t) => {
  const conn = await connectDatabase(testDbUri('healthz'));
  const app = await buildApp({ config: testConfig(), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.close();
  });
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
});

t.test('readyz is 503 while the database is down and 200 again once it is back, without a restart', async (t) => {
  const real = new URL(testDbUri('readyz'));
  const proxy = new TcpProxy(real.hostname, Number(real.port || 27017));
  await proxy.start();
  const conn = await connectDatabase(uriThroughProxy(real.toString(), proxy.port), { serverSelectionTimeoutMS: 1_000 });
  const app = await buildApp({ config: testConfig(), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.close();
    await proxy.stop();
  });

  const up = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(up.statusCode, 200);
  t.same(up.json(), { status: 'ready' });

  await proxy.stop();
  const down = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(down.statusCode, 503);
  t.same(down.json(), { status: 'unavailable', reason: 'database does not answer' });

  await proxy.start();
  // The driver reconnects on its own schedule (heartbeat); poll readiness the way a load balancer would.
  let back = 0;
  for (let i = 0; i < 60 && back !== 200; i++) {
    back = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode;
    if (back !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(back, 200, 'ready again after the database returned');
});
