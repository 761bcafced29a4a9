import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loggerOptions } from '../../src/logger.js';
import { readSyncToken } from '../../src/sync/token-store.js';
import { startPushHarness, REFRESH_TOKEN, ADMIN_TOKEN, AUTH } from '../helpers/push-harness.js';

t.test('a full life cycle at trace level writes no secret to the log or the admin API', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino(loggerOptions('trace'), sink);
  const h = await startPushHarness(t, { name: 'secrets-logs', listen: true, logger });
  const gcal = 'secrets@group.calendar.google.com';
  const id = await h.registerCalendar(gcal);
  await h.engine!.onIdle();
  const [channel] = h.emu.channels();
  t.ok(channel?.token, 'a channel with a token exists');

  // A real change through a real ping, a forged ping and a bad admin token: the paths that
  // handle secrets, including the ones that reject them.
  h.emu.insertEvent(gcal, { summary: 'x', start: { dateTime: new Date(Date.now() + 86_400_000).toISOString() }, end: { dateTime: new Date(Date.now() + 90_000_000).toISOString() } });
  await h.emu.flushPings();
  await h.engine!.onIdle();
  const forgedToken = 'forged-channel-token-should-not-be-logged';
  await h.app.inject({
    method: 'POST',
    url: '/webhooks/google-calendar',
    headers: { 'x-goog-channel-id': channel!.id, 'x-goog-channel-token': forgedToken, 'x-goog-resource-id': channel!.resourceId, 'x-goog-resource-state': 'exists', 'x-goog-message-number': '999' },
  });
  const wrongAdmin = 'wrong-admin-token-should-not-be-logged-0000';
  await h.app.inject({ url: '/admin/calendars', headers: { authorization: `Bearer ${wrongAdmin}` } });
  const state = await h.app.inject({ url: `/admin/calendars/${id}`, headers: AUTH });
  const list = await h.app.inject({ url: '/admin/calendars', headers: AUTH });
  const events = await h.app.inject({ url: `/admin/calendars/${id}/events`, headers: AUTH });

  const syncToken = (await readSyncToken(h.models.Calendar, id))?.token;
  t.ok(syncToken, 'the calendar holds a sync token');
  const secrets = { REFRESH_TOKEN, ADMIN_TOKEN, channelToken: channel!.token!, syncToken: syncToken!, forgedToken, wrongAdmin };
  const log = lines.join('');
  t.ok(lines.length > 20, `the log has content (${lines.length} lines)`);
  t.match(log, /ping rejected/, 'the forged ping was logged');
  for (const [name, value] of Object.entries(secrets)) {
    t.notOk(log.includes(value), `${name} is not in the log`);
    for (const [route, res] of Object.entries({ state, list, events })) t.notOk(res.body.includes(value), `${name} is not in the ${route} reply`);
  }
  t.equal(state.json().hasSyncToken, true);
});
