import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { appOnTestDb } from '../helpers/app-on-test-db.js';

const ADMIN = 'dashboard-admin-token-0123456789abcdef';

async function appWithData(t: Test) {
  const app = await appOnTestDb(t, 'dashboard', { ADMIN_TOKEN: ADMIN });
  const { Calendar } = app.services.models;
  await Calendar.create({ accountId: new Types.ObjectId(), googleCalendarId: '<script>alert(1)</script>@x', state: 'failed', lastError: { code: 'transient', message: 'backend <b>down</b>', at: new Date() } });
  await Calendar.create({ accountId: new Types.ObjectId(), googleCalendarId: 'ok@x', state: 'idle', syncToken: 'SECRET-SYNC-TOKEN' });
  return app;
}

t.test('the dashboard refuses requests without the admin token', async (t) => {
  const app = await appWithData(t);
  const none = await app.inject({ url: '/dashboard' });
  t.equal(none.statusCode, 401);
  t.match(none.headers['www-authenticate'], /^Basic /);
  const wrong = await app.inject({ url: '/dashboard', headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` } });
  t.equal(wrong.statusCode, 401);
});

t.test('the dashboard renders the fleet for Basic or Bearer auth, escaped, without secrets', async (t) => {
  const app = await appWithData(t);
  const basic = await app.inject({ url: '/dashboard', headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}` } });
  t.equal(basic.statusCode, 200);
  t.match(basic.headers['content-type'], /text\/html/);
  t.match(basic.body, '&#60;script&#62;alert(1)&#60;/script&#62;@x', 'calendar ids are escaped');
  t.notMatch(basic.body, '<script>alert(1)', 'no raw markup from data');
  t.match(basic.body, 'transient: backend &#60;b&#62;down&#60;/b&#62;');
  t.notMatch(basic.body, 'SECRET-SYNC-TOKEN');
  const bearer = await app.inject({ url: '/dashboard', headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(bearer.statusCode, 200);
});

t.test('/metrics exports Prometheus text with calsync series and fleet gauges', async (t) => {
  const app = await appWithData(t);
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  for (const name of ['calsync_syncs_total', 'calsync_full_sync_fallbacks_total', 'calsync_sync_token_expirations_total', 'calsync_google_api_calls_total', 'calsync_sync_duration_seconds', 'calsync_webhook_rejections_total']) {
    t.match(res.body, `# TYPE ${name}`, name);
  }
  t.match(res.body, /calsync_calendars\{state="failed",mode="push"\} 1/);
  t.match(res.body, /calsync_calendars\{state="idle",mode="push"\} 1/);
  t.notMatch(res.body, 'SECRET-SYNC-TOKEN');
});
