import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { appOnTestDb } from '../helpers/app-on-test-db.js';

const ADMIN = 'dashboard-pages-admin-token-0123456789';
const BEARER = { authorization: `Bearer ${ADMIN}` };
const BASIC = { authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}` };

async function app(t: Test) {
  const a = await appOnTestDb(t, 'dashboard-pages', { ADMIN_TOKEN: ADMIN });
  return a;
}

t.test('dashboard pages and assets carry a strict CSP, frame-ancestors none, nosniff and no-store', async (t) => {
  const a = await app(t);
  for (const url of ['/dashboard', '/dashboard/assets/dashboard.js', '/dashboard/assets/uPlot.iife.min.js']) {
    const res = await a.inject({ url, headers: BASIC });
    t.equal(res.statusCode, 200, url);
    const csp = String(res.headers['content-security-policy']);
    t.match(csp, /script-src 'self'/, url);
    t.match(csp, /style-src 'self'/, url);
    t.match(csp, /frame-ancestors 'none'/, url);
    t.notMatch(csp, /unsafe-inline|unsafe-eval/, url);
    t.equal(res.headers['x-content-type-options'], 'nosniff', url);
    t.equal(res.headers['cache-control'], 'no-store', url);
  }
  const page = await a.inject({ url: '/dashboard', headers: BASIC });
  t.notMatch(page.body, /<script>|<style>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');
  t.match(page.body, /<p class="as-of" id="fleet-as-of">Counts \(here and in the state filters\) as of \d+s ago\.<\/p>/, 'the kept fleet counts say how old they are');
  const js = await a.inject({ url: '/dashboard/assets/uPlot.iife.min.js', headers: BEARER });
  t.match(js.headers['content-type'], /text\/javascript/);
  t.match(js.body, 'uPlot', 'the charting library itself, from node_modules');
});

t.test('without the token every dashboard path, known or not, is a 401 with the Basic challenge', async (t) => {
  const a = await app(t);
  for (const url of ['/dashboard', '/dashboard/assets/dashboard.js', `/dashboard/calendars/${new Types.ObjectId().toHexString()}`, '/dashboard/no-such-page']) {
    const res = await a.inject({ url });
    t.equal(res.statusCode, 401, url);
    t.match(res.headers['www-authenticate'], /^Basic realm="calsync dashboard"/, url);
    t.equal(res.json().error.code, 'UNAUTHORIZED', url);
  }
  const wrongBearer = await a.inject({ url: '/dashboard', headers: { authorization: `Bearer ${ADMIN}x` } });
  t.equal(wrongBearer.statusCode, 401);
  t.equal((await a.inject({ url: '/dashboard/no-such-page', headers: BASIC })).statusCode, 404, 'with the token, an unknown page is a 404');
  t.equal((await a.inject({ url: '/dashboard/assets/..%2Fpackage.json', headers: BASIC })).statusCode, 404, 'assets come from an allow-list only');
});

t.test('unknown /admin paths answer 401 before 404', async (t) => {
  const a = await app(t);
  const anon = await a.inject({ url: '/admin/no-such-route' });
  t.equal(anon.statusCode, 401);
  t.same(anon.json(), { error: { code: 'UNAUTHORIZED', message: 'a valid admin bearer token is required' } });
  t.equal(anon.headers['www-authenticate'], 'Bearer');
  const known = await a.inject({ method: 'POST', url: '/admin/no-such-route', headers: BEARER });
  t.equal(known.statusCode, 404);
  t.equal(known.json().error.code, 'NOT_FOUND');
  const lower = await a.inject({ url: '/admin/status', headers: { authorization: `bearer ${ADMIN}` } });
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive');
});

t.test('the calendar list is one page at a time, filterable by state, with links to the next page', async (t) => {
  const a = await app(t);
  const accountId = new Types.ObjectId();
  const docs = Array.from({ length: 230 }, (_, i) => ({
    _id: new Types.ObjectId(),
    accountId,
    googleCalendarId: `c${String(i).padStart(3, '0')}@x`,
    state: i % 10 === 0 ? 'failed' : 'idle',
  }));
  await a.services.models.Calendar.insertMany(docs);
  const first = await a.inject({ url: '/dashboard', headers: BASIC });
  const rowsOf = (body: string) => body.match(/<tr class="state-/g)?.length ?? 0;
  t.equal(rowsOf(first.body), 100, 'a page of 100');
  t.match(first.body, 'all (230)');
  t.match(first.body, 'failed (23)');
  const next = /<a href="([^"]+)" rel="next">/.exec(first.body)?.[1]?.replace(/&#38;/g, '&').replace(/&#61;/g, '=');
  t.ok(next, 'a next-page link');
  const second = await a.inject({ url: next!, headers: BASIC });
  t.equal(rowsOf(second.body), 100);
  t.match(second.body, 'c100@x');
  t.notMatch(second.body, 'c099@x');

  const failed = await a.inject({ url: '/dashboard?state=failed', headers: BASIC });
  t.equal(rowsOf(failed.body), 23);
  t.equal(failed.body.match(/<tr class="state-failed">/g)?.length, 23, 'only failed calendars');
  t.notMatch(failed.body, 'rel="next"', 'no next page when all fit');

  const bad = await a.inject({ url: '/dashboard?state=asleep', headers: BASIC });
  t.equal(bad.statusCode, 400);
  const badCursor = await a.inject({ url: '/dashboard?cursor=bm9wZQ', headers: BASIC });
  t.equal(badCursor.statusCode, 400);
  t.equal(badCursor.json().error.code, 'INVALID_CURSOR');
});

t.test('a calendar page shows its state, channel, recent syncs and errors, escaped', async (t) => {
  const a = await app(t);
  const cal = await a.services.models.Calendar.create({
    accountId: new Types.ObjectId(),
    googleCalendarId: '<img src=x>@x',
    state: 'failed',
    syncToken: 'SECRET-SYNC-TOKEN',
    lastError: { code: 'permission', message: 'HTTP 403 <forbidden>', at: new Date() },
  });
  const now = Date.now();
  await a.services.SyncRun.insertMany([
    { calendarId: cal._id, mode: 'incremental', outcome: 'ok', durationMs: 120, apiCalls: 1, finishedAt: new Date(now - 120_000) },
    { calendarId: cal._id, mode: 'full', outcome: 'failed', durationMs: 900, apiCalls: 3, errorCode: 'permission', finishedAt: new Date(now - 60_000) },
    { calendarId: new Types.ObjectId(), mode: 'full', outcome: 'failed', durationMs: 1, errorCode: 'other-calendar', finishedAt: new Date(now) },
  ]);
  const res = await a.inject({ url: `/dashboard/calendars/${cal._id.toHexString()}`, headers: BEARER });
  t.equal(res.statusCode, 200);
  t.match(res.body, '&#60;img src&#61;x&#62;@x');
  t.notMatch(res.body, '<img');
  t.notMatch(res.body, 'SECRET-SYNC-TOKEN');
  t.match(res.body, 'HTTP 403 &#60;forbidden&#62;');
  const table = (id: string) => res.body.split(`<table id="${id}">`)[1]?.split('</table>')[0] ?? '';
  t.equal(table('recent-syncs').match(/<tr class="outcome-/g)?.length, 2, 'its two runs, not another calendar\'s');
  t.equal(table('recent-errors').match(/<tr class="outcome-/g)?.length, 1);
  t.match(table('recent-errors'), 'permission');
  t.notMatch(res.body, 'other-calendar');
  t.equal((await a.inject({ url: `/dashboard/calendars/${new Types.ObjectId().toHexString()}`, headers: BEARER })).statusCode, 404);
  t.equal((await a.inject({ url: '/dashboard/calendars/nope', headers: BEARER })).statusCode, 400);
});

t.test('the charts count the last 24 h of stored runs per bucket', async (t) => {
  const a = await app(t);
  const now = Date.now();
  const calendarId = new Types.ObjectId();
  const run = (minutesAgo: number, extra: Record<string, unknown>) => ({ calendarId, mode: 'incremental', outcome: 'ok', durationMs: 200, apiCalls: 1, fullPollCalls: 8, finishedAt: new Date(now - minutesAgo * 60_000), ...extra });
  await a.services.SyncRun.insertMany([
    run(1, {}),
    run(2, {}),
    run(3, { mode: 'full', fallbackReason: 'token_expired', tokenExpired: true, apiCalls: 8, durationMs: 4000 }),
    run(3 * 60, { outcome: 'failed', errorCode: 'transient' }),
    run(25 * 60, {}), // older than the window
  ]);
  const res = await a.inject({ url: '/dashboard', headers: BASIC });
  const charts = new Map<string, { x: number[]; series: { label: string; values: (number | null)[] }[] }>();
  for (const m of res.body.matchAll(/<figure class="chart" id="chart-([a-z]+)" data-chart="([^"]*)">/g)) {
    const json = m[2]!.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&#60;/g, '<').replace(/&#62;/g, '>').replace(/&#61;/g, '=').replace(/&#38;/g, '&');
    charts.set(m[1]!, JSON.parse(json));
  }
  t.same([...charts.keys()], ['syncs', 'failures', 'api', 'duration']);
  const total = (chart: string, label: string) =>
    charts.get(chart)!.series.find((s) => s.label === label)!.values.reduce<number>((a, v) => a + (v ?? 0), 0);
  t.equal(charts.get('syncs')!.x.length, 96, '24 h in 15-minute buckets');
  t.equal(total('syncs', 'incremental'), 3);
  t.equal(total('syncs', 'full'), 1);
  t.equal(total('failures', 'failed'), 1);
  t.equal(total('failures', 'fallbacks'), 1);
  t.equal(total('failures', 'token expirations'), 1);
  t.equal(total('api', 'API calls'), 11);
  t.equal(total('api', 'full re-list baseline'), 32);
  // Runs finished 1 and 2 minutes ago fall in the last two 15-minute buckets, whatever the clock.
  const incremental = charts.get('syncs')!.series[0]!.values;
  t.equal(incremental.slice(-2).reduce<number>((a, v) => a + (v ?? 0), 0), 2, 'the recent runs land in the last buckets');
  const x = charts.get('syncs')!.x;
  const failedAt = (now - 3 * 3_600_000) / 1000;
  const bucket = x.findLastIndex((start) => start <= failedAt);
  t.equal(charts.get('failures')!.series[0]!.values[bucket], 1, 'the failure 3 h ago lands in its own bucket');
  const p99 = charts.get('duration')!.series.find((s) => s.label === 'p99')!.values.filter((v) => v !== null);
  t.ok(p99.some((v) => v! > 2500 && v! <= 5000), 'the 4 s sync shows in p99');
});
