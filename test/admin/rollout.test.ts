import t from 'tap';
import { startPushHarness } from '../helpers/push-harness.js';

const hour = 3600_000;
const event = (i: number) => ({
  summary: `rollout ${i}`,
  start: { dateTime: new Date(Date.now() + (24 + i) * hour).toISOString() },
  end: { dateTime: new Date(Date.now() + (25 + i) * hour).toISOString() },
});

t.test('a canary calendar runs incremental while the fleet is off, and PATCH rolls it back', async (t) => {
  const h = await startPushHarness(t, { name: 'rollout', env: { INCREMENTAL_SYNC_ENABLED: 'false' } });
  const auth = { authorization: `Bearer ${h.config.adminToken}` };
  const engine = h.engine!;
  const gcal = 'rollout@group.calendar.google.com';
  const id = await h.registerCalendar(gcal);
  await engine.onIdle();

  const modeOfNextSync = async (i: number) => {
    h.emu.insertEvent(gcal, event(i));
    const run = await engine.syncCalendar(id);
    return run.passes.map((p) => p.mode);
  };
  t.same(await modeOfNextSync(1), ['full'], 'fleet switch off: full sync');

  const canary = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload: { incrementalEnabled: true } });
  t.equal(canary.statusCode, 200);
  t.equal(canary.json().incrementalEnabled, true);
  t.same(await modeOfNextSync(2), ['incremental'], 'the canary syncs incrementally');

  const back = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload: { incrementalEnabled: false } });
  t.equal(back.statusCode, 200);
  t.same(await modeOfNextSync(3), ['full'], 'rolled back: full sync again');
  t.equal(back.json().hasSyncToken, true, 'the token is kept through a rollback');

  const inherit = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload: { incrementalEnabled: null } });
  t.equal(inherit.json().incrementalEnabled, null);
  t.same(await modeOfNextSync(4), ['full'], 'null inherits the fleet switch');

  const mirror = (await h.models.Event.find({}, { googleEventId: 1, etag: 1 }).lean()).map((e) => [e.googleEventId, e.etag]).sort();
  t.same(mirror, h.emu.listAllEvents(gcal, { singleEvents: true }).map((e) => [e.id, e.etag]).sort(), 'the mirror equals Google');
});

t.test('PATCH refuses bad values and unknown calendars and changes nothing', async (t) => {
  const h = await startPushHarness(t, { name: 'rollout-bad', sync: 'recording' });
  const auth = { authorization: `Bearer ${h.config.adminToken}` };
  const id = await h.registerCalendar('rollout-bad@group.calendar.google.com');
  for (const payload of [{ incrementalEnabled: 'yes' }, {}, { incrementalEnabled: true, extra: 1 }]) {
    const res = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
  }
  t.equal((await h.models.Calendar.findById(id).lean())?.incrementalEnabled, null, 'unchanged');
  const missing = await h.app.inject({ method: 'PATCH', url: '/admin/calendars/0123456789abcdef01234567', headers: auth, payload: { incrementalEnabled: true } });
  t.equal(missing.statusCode, 404);
  const noAuth = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, payload: { incrementalEnabled: true } });
  t.equal(noAuth.statusCode, 401);
});

t.test('with the fleet switch on, PATCH false stores false and the calendar falls back to full syncs', async (t) => {
  const h = await startPushHarness(t, { name: 'rollout-on', env: { INCREMENTAL_SYNC_ENABLED: 'true' } });
  const auth = { authorization: `Bearer ${h.config.adminToken}` };
  const engine = h.engine!;
  const gcal = 'rollout-on@group.calendar.google.com';
  const id = await h.registerCalendar(gcal);
  await engine.onIdle();
  const stored = async () => (await h.models.Calendar.findById(id).lean())?.incrementalEnabled;
  const modeOfNextSync = async (i: number) => {
    h.emu.insertEvent(gcal, event(i));
    return (await engine.syncCalendar(id)).passes.map((p) => p.mode);
  };
  t.same(await modeOfNextSync(1), ['incremental'], 'fleet on: incremental');

  const off = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload: { incrementalEnabled: false } });
  t.equal(off.statusCode, 200);
  t.equal(off.json().incrementalEnabled, false, 'the reply shows false');
  t.equal(await stored(), false, 'false is stored, not null');
  t.same(await modeOfNextSync(2), ['full'], 'rolled back while the fleet is on');

  // Values a coercing validator would have turned into null or false are refused and change nothing.
  for (const incrementalEnabled of [0, '', 'false', 1, [false]]) {
    const res = await h.app.inject({ method: 'PATCH', url: `/admin/calendars/${id}`, headers: auth, payload: { incrementalEnabled } });
    t.equal(res.statusCode, 400, JSON.stringify(incrementalEnabled));
  }
  t.equal(await stored(), false, 'still false');
});
