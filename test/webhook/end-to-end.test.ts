// Real sockets on purpose: the emulator delivers pings over HTTP to the listening server, the
// webhook asks the real engine for syncs, and the mirror must end up equal to the emulator.
import t from 'tap';
import type { Test } from 'tap';
import type { calendar_v3 } from 'googleapis';
import { Types } from 'mongoose';
import type { CalendarClients } from '../../src/accounts/calendar-clients.js';
import { ChannelService } from '../../src/channels/channel-service.js';
import { eventBody } from '../helpers/sync-harness.js';
import { silentLog, startPushHarness, withEvents, type PushHarness } from '../helpers/push-harness.js';

type TT = Test;

const listCalls = (h: PushHarness): number => h.emu.stats()['events.list'] ?? 0;

/** Waits until every ping Google sent was answered and every sync they asked for has finished. */
async function settle(h: PushHarness): Promise<void> {
  await h.emu.flushPings();
  await h.engine!.onIdle();
}

async function assertMirrorExact(tt: TT, h: PushHarness, calendarId: string, gcalId: string, message = 'the mirror equals the emulator') {
  const google = h.emu
    .listAllEvents(gcalId, { singleEvents: h.config.sync.singleEvents })
    .map((e) => `${e.id}:${e.etag}`)
    .sort();
  const mirror = (await h.models.Event.find({ calendarId: new Types.ObjectId(calendarId) }, { googleEventId: 1, etag: 1 }).lean())
    .map((e) => `${e.googleEventId}:${e.etag}`)
    .sort();
  tt.same(mirror, google, message);
}

async function registered(
  t: TT,
  name: string,
  beforeList?: () => Promise<void>,
): Promise<{ h: PushHarness; id: string; gcalId: string }> {
  const h = await startPushHarness(t, { name, listen: true, ...(beforeList ? { beforeList } : {}) });
  const gcalId = `${name}@group.calendar.google.com`;
  h.emu.createCalendar(gcalId);
  h.emu.insertEvents(gcalId, [eventBody(1), eventBody(2)]);
  const res = await h.app.inject({
    method: 'POST',
    url: '/admin/calendars',
    headers: { authorization: `Bearer ${h.config.adminToken}` },
    payload: { accountId: await h.accountId(), googleCalendarId: gcalId },
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  const id = res.json().id as string;
  await settle(h);
  return { h, id, gcalId };
}

t.test('changes at Google reach the mirror through pings alone', async (t) => {
  const { h, id, gcalId } = await registered(t, 'e2e-flow');
  await assertMirrorExact(t, h, id, gcalId, 'registration full-synced the calendar');
  t.equal(h.metrics.outcomes.get('acknowledged'), 1, 'the channel’s first sync ping was acknowledged');

  const created = h.emu.insertEvent(gcalId, eventBody(3, 'standup'));
  await settle(h);
  await assertMirrorExact(t, h, id, gcalId, 'an insert arrives');
  h.emu.patchEvent(gcalId, created.id!, { summary: 'standup (moved)' });
  await settle(h);
  const [row] = await h.models.Event.find({ googleEventId: created.id }).lean();
  t.equal(row?.summary, 'standup (moved)', 'an update arrives');
  h.emu.deleteEvent(gcalId, created.id!);
  await settle(h);
  await assertMirrorExact(t, h, id, gcalId, 'a deletion arrives');
  t.equal(h.metrics.outcomes.get('sync_requested'), 3, 'one verified change ping per change');
  t.equal(h.metrics.rejections.size, 0, 'no real ping was rejected');
});

t.test('a burst of 200 pings for one calendar leads to at most 2 syncs', async (t) => {
  // The burst lands while the sync started by its first ping is in flight: that sync is held at its
  // events.list call until every ping has been answered.
  let hold: Promise<void> | null = null;
  let release = () => {};
  let held = () => {};
  const firstListHeld = new Promise<void>((resolve) => (held = resolve));
  const { h, id, gcalId } = await registered(t, 'e2e-burst', async () => {
    if (!hold) return;
    held();
    await hold;
  });
  const [event] = h.emu.insertEvents(gcalId, [eventBody(10)]);
  await settle(h);
  hold = new Promise<void>((resolve) => (release = resolve));

  const before = listCalls(h);
  const pushedBefore = h.emu.pingStats();
  for (let i = 0; i < 200; i++) h.emu.patchEvent(gcalId, event!.id!, { summary: `edit ${i}` });
  await firstListHeld;
  await h.emu.flushPings();
  // On a loaded database an answer can take longer than the push timeout; the emulator then retries
  // that ping as Google does, so calsync may answer more deliveries than there were pings.
  const pushed = h.emu.pingStats();
  t.same(
    { delivered: pushed.delivered - pushedBefore.delivered, failed: pushed.failed - pushedBefore.failed },
    { delivered: 200, failed: 0 },
    'every ping of the burst reached a 2xx answer while the sync ran',
  );
  const answered = (h.metrics.outcomes.get('sync_requested') ?? 0) + (h.metrics.outcomes.get('stale') ?? 0);
  t.ok(answered >= 201, `every delivery was verified and answered (late older numbers count as stale): ${answered} for ${pushed.attempts} attempts`);
  t.equal(h.metrics.rejections.size, 0);
  release();
  await settle(h);

  const syncs = listCalls(h) - before;
  t.ok(syncs >= 1 && syncs <= 2, `events.list calls for the burst: ${syncs} (at most 2)`);
  await assertMirrorExact(t, h, id, gcalId);
  const [row] = await h.models.Event.find({ googleEventId: event!.id }).lean();
  t.equal(row?.summary, 'edit 199', 'the last edit is mirrored');
});

t.test('forged, expired, unknown and malformed pings over HTTP cause no sync and no 5xx', async (t) => {
  const { h } = await registered(t, 'e2e-forged');
  const [ch] = h.emu.channels();
  const before = listCalls(h);
  const good = {
    'x-goog-channel-id': ch!.id,
    'x-goog-channel-token': ch!.token!,
    'x-goog-resource-id': ch!.resourceId,
    'x-goog-resource-state': 'exists',
    'x-goog-message-number': '1000',
  };
  const attempts: Array<[string, Record<string, string>, string?]> = [
    ['forged token', { ...good, 'x-goog-channel-token': 'guess' }],
    ['unknown channel', { ...good, 'x-goog-channel-id': 'f0000000-0000-4000-8000-000000000000' }],
    ['wrong resource', { ...good, 'x-goog-resource-id': 'other' }],
    ['no headers', {}],
    ['bad number', { ...good, 'x-goog-message-number': '-1' }],
    ['bad state', { ...good, 'x-goog-resource-state': 'changed' }],
    ['with a body', { ...good, 'content-type': 'application/json' }, '{"evil":true}'],
    ['huge body', { ...good, 'content-type': 'application/octet-stream' }, 'x'.repeat(2_000_000)],
  ];
  for (const [name, headers, body] of attempts) {
    const res = await fetch(`${h.baseUrl}/webhooks/google-calendar`, { method: 'POST', headers, ...(body ? { body } : {}) }).catch(
      (err: Error) => ({ status: -1, statusText: err.message }),
    );
    t.ok(res.status >= 400 && res.status < 500, `${name}: ${res.status}`);
  }
  const wrongMethod = await fetch(`${h.baseUrl}/webhooks/google-calendar`, { method: 'GET', headers: good });
  t.equal(wrongMethod.status, 405);

  h.advance(3 * 86_400_000); // the channel is now expired
  const expired = await fetch(`${h.baseUrl}/webhooks/google-calendar`, { method: 'POST', headers: good });
  t.equal(expired.status, 403, 'expired channel');
  await settle(h);
  t.equal(listCalls(h), before, 'no events.list call came of any of them');
  t.equal(h.metrics.outcomes.get('sync_requested') ?? 0, 0);
  t.equal(h.metrics.failures, 0, 'nothing failed inside');
});

t.test('renewal replaces the channel with no missed change during the overlap', async (t) => {
  const { h, id, gcalId } = await registered(t, 'e2e-renew');
  const oldChannel = h.emu.channels()[0]!;
  h.advance(25 * 3_600_000);

  // The change lands after the new channel exists and before the old one is stopped.
  let overlapEvent: calendar_v3.Schema$Event | undefined;
  const clients: CalendarClients = {
    forAccount: (accountId) => h.clients.forAccount(accountId),
    async forCalendar(calendarId) {
      const real = await h.clients.forCalendar(calendarId);
      const client = withEvents(real.client, (events) => ({
        watch: async (...args: never[]) => {
          const res = await (events.watch as (...a: never[]) => Promise<unknown>)(...args);
          overlapEvent = h.emu.insertEvent(gcalId, eventBody(20, 'during overlap'));
          await h.emu.flushPings();
          return res;
        },
      }));
      return { ...real, client };
    },
  };
  const channels = new ChannelService({
    conn: h.conn,
    clients,
    publicBaseUrl: h.config.publicBaseUrl,
    ttlSeconds: h.config.channels.ttlSeconds,
    renewLeadSeconds: h.config.channels.renewLeadSeconds,
    log: silentLog,
    now: h.now,
  });
  const report = await channels.renewDue();
  t.equal(report.renewed, 1);
  await settle(h);
  t.ok(overlapEvent, 'a change happened during the overlap');
  await assertMirrorExact(t, h, id, gcalId, 'the overlap change is mirrored');

  const live = h.emu.channels().filter((c) => !c.stopped);
  t.equal(live.length, 1, 'one live channel at Google');
  t.not(live[0]!.id, oldChannel.id);
  t.equal(h.emu.channels().find((c) => c.id === oldChannel.id)?.stopped, true, 'the old channel was stopped');

  h.emu.insertEvent(gcalId, eventBody(21, 'after renewal'));
  await settle(h);
  await assertMirrorExact(t, h, id, gcalId, 'changes after renewal arrive on the new channel');
});
