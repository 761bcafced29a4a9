import t from 'tap';
import type { calendar_v3 } from 'googleapis';
import type { CalendarClients } from '../../src/accounts/calendar-clients.js';
import { channelModel } from '../../src/channels/channel-model.js';
import { ChannelService } from '../../src/channels/channel-service.js';
import { sha256Hex } from '../../src/crypto/hash.js';
import { calendarModel } from '../../src/models/calendar.js';
import { silentLog, startPushHarness, type PushHarness } from '../helpers/push-harness.js';

const HOUR = 3_600_000;

function service(h: PushHarness, overrides: Partial<ConstructorParameters<typeof ChannelService>[0]> = {}): ChannelService {
  return new ChannelService({
    conn: h.conn,
    clients: h.clients,
    publicBaseUrl: h.config.publicBaseUrl,
    ttlSeconds: h.config.channels.ttlSeconds,
    renewLeadSeconds: h.config.channels.renewLeadSeconds,
    log: silentLog,
    now: h.now,
    ...overrides,
  });
}

const watchCalls = (h: PushHarness): number => h.emu.stats()['events.watch'] ?? 0;

async function registerMany(h: PushHarness, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await h.registerCalendar(`${prefix}-${i}@group.calendar.google.com`));
  return ids;
}

t.test('a channel is saved as pending before events.watch is called, then active with Google’s resource id and expiry', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-open', sync: 'recording' });
  h.emu.createCalendar('open@group.calendar.google.com');
  const Calendar = calendarModel(h.conn);
  const cal = await Calendar.create({ accountId: await h.accountId(), googleCalendarId: 'open@group.calendar.google.com' });
  const Channel = channelModel(h.conn);
  const seenDuringWatch: Array<string | undefined> = [];
  // Wraps the real client: during the watch call, look at what the database already holds.
  const clients: CalendarClients = {
    forAccount: (id) => h.clients.forAccount(id),
    async forCalendar(id) {
      const real = await h.clients.forCalendar(id);
      const events = new Proxy(real.client.events, {
        get(target, prop, receiver) {
          if (prop !== 'watch') return Reflect.get(target, prop, receiver);
          return async (params: calendar_v3.Params$Resource$Events$Watch, opts: object) => {
            const doc = await Channel.findById(params.requestBody?.id).lean();
            seenDuringWatch.push(doc?.status);
            return target.watch(params, opts);
          };
        },
      });
      return { ...real, client: { ...real.client, events } as calendar_v3.Calendar };
    },
  };
  const result = await service(h, { clients }).ensureChannel(cal._id.toHexString());
  t.equal(result.outcome, 'opened');
  t.same(seenDuringWatch, ['pending'], 'the channel existed, pending, while watch ran');

  const [emuChannel] = h.emu.channels();
  const doc = await Channel.findById(emuChannel?.id).select('+tokenHash').lean();
  t.equal(doc?.status, 'active');
  t.equal(doc?.resourceId, emuChannel?.resourceId);
  t.equal(doc?.expiration?.getTime(), emuChannel?.expiration);
  t.match(doc?._id, /^[0-9a-f-]{36}$/, 'the channel id is a UUID');
  t.equal(emuChannel?.address, `${h.config.publicBaseUrl}/webhooks/google-calendar`);
  t.equal(doc?.tokenHash, sha256Hex(emuChannel?.token ?? ''), 'only the hash of the token Google got is stored');
  const raw = await h.conn.db!.collection('channels').find().toArray();
  t.notOk(JSON.stringify(raw).includes(emuChannel?.token ?? '∅'), 'the token itself is nowhere in the database');
  t.equal(emuChannel!.expiration - h.now() <= 48 * HOUR && emuChannel!.expiration - h.now() > 47 * HOUR, true, 'TTL is the configured 48 h');
});

t.test('renewal replaces every due channel: new channel first, old one stopped, one active channel per calendar', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-renew', sync: 'recording' });
  const ids = await registerMany(h, 'renew', 3);
  const before = new Map<string, string>();
  for (const id of ids) before.set(id, (await h.activeChannels(id))[0]!._id);

  const notDue = await service(h).renewDue();
  t.equal(notDue.renewed, 0, 'fresh channels are not renewed');

  h.advance(25 * HOUR); // 48 h TTL, 24 h lead: due after 24 h
  const report = await service(h).renewDue();
  t.equal(report.renewed, 3);
  t.same(report.failed, []);
  t.equal(report.stops.failed, 0);
  const emuChannels = h.emu.channels();
  for (const id of ids) {
    const active = await h.activeChannels(id);
    t.equal(active.length, 1, 'exactly one active channel');
    t.not(active[0]!._id, before.get(id), 'it is a new channel');
    t.equal(emuChannels.find((c) => c.id === before.get(id))?.stopped, true, 'the old channel is stopped at Google');
    t.equal(emuChannels.find((c) => c.id === active[0]!._id)?.stopped, false);
  }
  const old = await channelModel(h.conn).find({ _id: { $in: [...before.values()] } }).lean();
  t.same(old.map((c) => c.status), ['stopped', 'stopped', 'stopped']);
  t.ok(old.every((c) => c.supersededBy), 'each old channel names its successor');
});

t.test('two renewal passes at once renew each due channel exactly once', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-double', sync: 'recording' });
  const ids = await registerMany(h, 'double', 4);
  h.advance(25 * HOUR);
  const watchesBefore = watchCalls(h);
  const [a, b] = await Promise.all([service(h, { owner: 'renewer-a' }).renewDue(), service(h, { owner: 'renewer-b' }).renewDue()]);
  t.equal(watchCalls(h) - watchesBefore, 4, 'one events.watch per due channel');
  t.equal(a.renewed + b.renewed, 4);
  for (const id of ids) t.equal((await h.activeChannels(id)).length, 1);
  const live = h.emu.channels().filter((c) => !c.stopped);
  t.equal(live.length, 4, 'Google holds one live channel per calendar');
});

t.test('a superseded channel whose stop fails stays recorded and is stopped by the next pass', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-stop-retry', sync: 'recording' });
  const [id] = await registerMany(h, 'stopretry', 1);
  const oldId = (await h.activeChannels(id!))[0]!._id;
  h.advance(25 * HOUR);
  // Fails both the stop right after renewal and the retry at the end of the same pass.
  h.emu.addFault({ method: 'channels.stop', status: 503, count: 2 });
  const first = await service(h).renewDue();
  t.equal(first.renewed, 1);
  t.equal(first.stops.failed, 1, 'reported as a pending stop');
  const Channel = channelModel(h.conn);
  const stuck = await Channel.findById(oldId).lean();
  t.equal(stuck?.status, 'superseded');
  t.equal(stuck?.stopAttempts, 2);
  t.match(stuck?.lastStopError, /503/);
  t.equal(h.emu.channels().find((c) => c.id === oldId)?.stopped, false);

  const second = await service(h).renewDue();
  t.equal(second.renewed, 0, 'nothing is renewed twice');
  t.equal(second.stops.stopped, 1);
  t.equal((await Channel.findById(oldId).lean())?.status, 'stopped');
  t.equal(h.emu.channels().find((c) => c.id === oldId)?.stopped, true);
});

t.test('channels.stop answering 404 means already gone: the channel is recorded as stopped', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-stop-404', sync: 'recording' });
  const [id] = await registerMany(h, 'stop404', 1);
  const oldId = (await h.activeChannels(id!))[0]!._id;
  h.advance(25 * HOUR);
  h.emu.addFault({ method: 'channels.stop', status: 404, reason: 'notFound', count: 1 });
  await service(h).renewDue();
  const doc = await channelModel(h.conn).findById(oldId).lean();
  t.equal(doc?.status, 'stopped');
  t.equal(doc?.endReason, 'already gone at Google');
});

t.test('a calendar whose watch is refused falls back to polling and says why', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-refused', sync: 'recording' });
  h.emu.addFault({ method: 'events.watch', status: 400, reason: 'pushNotSupportedForRequestedResource', count: 1 });
  const id = await h.registerCalendar('refused@group.calendar.google.com');
  const cal = await calendarModel(h.conn).findById(id).lean();
  t.equal(cal?.mode, 'polling');
  t.match(cal?.modeReason, /pushNotSupportedForRequestedResource/);
  t.same(await h.activeChannels(id), []);
  t.equal(await channelModel(h.conn).countDocuments({ calendarId: id, status: { $ne: 'stopped' } }), 0, 'the refused channel is closed');
  t.equal((await calendarModel(h.conn).findById(id).lean())?.pendingFullSync, true, 'the full sync is still requested');

  const watches = watchCalls(h);
  await service(h).renewDue();
  t.equal(watchCalls(h), watches, 'a polled calendar gets no new watch attempts');
});

t.test('a watch that gets no answer stays pending, then the sweep closes it and a new channel is opened', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-uncertain', sync: 'recording' });
  h.emu.addFault({ method: 'events.watch', status: 503, count: 1 });
  const id = await h.registerCalendar('uncertain@group.calendar.google.com');
  const Channel = channelModel(h.conn);
  const [pending] = await Channel.find({ calendarId: id }).lean();
  t.equal(pending?.status, 'pending', 'Google may have created it: kept pending');

  const early = await service(h).renewDue();
  t.equal(early.created, 0, 'a young pending channel is left alone');

  h.advance(11 * 60_000);
  const report = await service(h).renewDue();
  t.equal(report.abandonedPending, 1);
  t.equal(report.created, 1, 'the calendar gets a working channel');
  t.equal((await Channel.findById(pending?._id).lean())?.status, 'stopped');
  t.equal((await h.activeChannels(id)).length, 1);
});

t.test('a due push calendar without a live channel gets a new one on the next pass', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-lost', sync: 'recording' });
  const [id] = await registerMany(h, 'lost', 1);
  // The channel is gone and the calendar's channel work is due (as after a failed attempt's back-off).
  await channelModel(h.conn).updateMany({ calendarId: id }, { $set: { status: 'stopped' } });
  await calendarModel(h.conn).updateOne({ _id: id }, { $set: { channelCheckAt: new Date(h.now()) } });
  const report = await service(h).renewDue();
  t.equal(report.created, 1);
  t.equal((await h.activeChannels(id!)).length, 1);
});

t.test('a calendar claimed by another renewer is left to it, and a lease whose holder died is taken over', async (t) => {
  const h = await startPushHarness(t, { name: 'ch-claim', sync: 'recording' });
  const [id] = await registerMany(h, 'claim', 1);
  // A renewer claimed the calendar (lease for 30 h) and died.
  await calendarModel(h.conn).updateOne({ _id: id }, { $set: { channelHeldBy: 'crashed', channelCheckAt: new Date(h.now() + 30 * HOUR) }, $inc: { channelEpoch: 1 } });
  h.advance(25 * HOUR);
  const watches = watchCalls(h);
  const blocked = await service(h).renewDue();
  t.equal(blocked.candidates, 0, 'a held calendar is not claimed');
  t.equal(blocked.renewed, 0);
  t.equal(watchCalls(h), watches);
  t.same(await service(h).ensureChannel(id!), { outcome: 'busy' });
  h.advance(6 * HOUR);
  const taken = await service(h).renewDue();
  t.equal(taken.renewed, 1, 'the expired lease is taken over');
  t.equal(watchCalls(h) - watches, 1);
  const cal = await calendarModel(h.conn).findById(id).lean();
  t.not(cal?.channelHeldBy, 'crashed');
  t.equal(cal?.channelHeldBy, null, 'released after the work');
  const [channel] = await h.activeChannels(id!);
  t.equal(cal?.channelCheckAt?.getTime(), channel!.expiration!.getTime() - h.config.channels.renewLeadSeconds * 1000, 'next due when the new channel enters the renewal lead');
});
