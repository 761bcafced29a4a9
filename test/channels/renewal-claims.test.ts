// Channel work claimed per calendar with the generic lease: several renewers (replicas and the
// script) share due calendars, renew each once, leave calendars that are not due alone, and take
// over the work of a renewer that died holding a lease.
import t from 'tap';
import type { CalendarClients } from '../../src/accounts/calendar-clients.js';
import { ChannelService } from '../../src/channels/channel-service.js';
import { calendarModel } from '../../src/models/calendar.js';
import type { QuotaGate } from '../../src/quota/quota-gate.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { silentLog, startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { harnessScriptEnv, runScript as runNamedScript, type ScriptResult } from '../helpers/run-script.js';

// The script's settings and the in-process renewers' agree: 30-day channels, 3-day lead.
const TTL_SECONDS = 30 * 86_400;
const LEAD_SECONDS = 3 * 86_400;

function service(h: PushHarness, overrides: Partial<ConstructorParameters<typeof ChannelService>[0]> = {}): ChannelService {
  return new ChannelService({
    conn: h.conn,
    clients: h.clients,
    publicBaseUrl: h.config.publicBaseUrl,
    ttlSeconds: TTL_SECONDS,
    renewLeadSeconds: LEAD_SECONDS,
    log: silentLog,
    now: h.now,
    ...overrides,
  });
}

const watchCalls = (h: PushHarness): number => h.emu.stats()['events.watch'] ?? 0;

function runScript(h: PushHarness): Promise<ScriptResult> {
  return runNamedScript('renew-channels', harnessScriptEnv(h, { CHANNEL_RENEW_LEAD_SECONDS: String(LEAD_SECONDS), CHANNEL_TTL_SECONDS: String(TTL_SECONDS) }));
}

t.test('two renewers and the script at once renew each due channel exactly once and leave the others alone', async (t) => {
  const h = await startPushHarness(t, { name: 'claims-three', sync: 'recording' });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await h.registerCalendar(`three-${i}@group.calendar.google.com`));
  const Calendar = calendarModel(h.conn);
  // The registered 48 h channels are all inside the 3-day lead, but only the first four calendars
  // are due by their stored time: the claim alone decides, nothing else is read.
  const due = ids.slice(0, 4);
  const notDue = ids.slice(4);
  await Calendar.updateMany({ _id: { $in: due } }, { $set: { channelCheckAt: new Date(h.now() - 60_000) } });
  const untouched = new Map<string, { channel: string; checkAt: number; epoch: number }>();
  for (const id of notDue) {
    const cal = await Calendar.findById(id).lean();
    untouched.set(id, { channel: (await h.activeChannels(id))[0]!._id, checkAt: cal!.channelCheckAt!.getTime(), epoch: cal!.channelEpoch! });
  }
  const oldDue = new Map<string, string>();
  for (const id of due) oldDue.set(id, (await h.activeChannels(id))[0]!._id);
  const watches = watchCalls(h);

  const [a, b, script] = await Promise.all([service(h, { owner: 'renewer-a' }).renewDue(), service(h, { owner: 'renewer-b' }).renewDue(), runScript(h)]);
  t.equal(script.code, 0, script.stderr);
  t.equal(watchCalls(h) - watches, 4, 'one events.watch per due channel across all three');
  const scriptRenewed = Number(/renewed (\d+)/.exec(script.stdout)?.[1]);
  t.equal(a.renewed + b.renewed + scriptRenewed, 4, 'each due calendar renewed by exactly one of them');
  t.same([...a.failed, ...b.failed], []);
  for (const id of due) {
    const active = await h.activeChannels(id);
    t.equal(active.length, 1, 'one active channel');
    t.not(active[0]!._id, oldDue.get(id), 'a new one');
    const cal = await Calendar.findById(id).lean();
    t.equal(cal?.channelHeldBy, null, 'the lease is released');
    t.equal(cal?.channelCheckAt?.getTime(), active[0]!.expiration!.getTime() - LEAD_SECONDS * 1000, 'due again at the new channel’s renewal lead');
  }
  for (const id of notDue) {
    const before = untouched.get(id)!;
    const cal = await Calendar.findById(id).lean();
    t.same((await h.activeChannels(id)).map((c) => c._id), [before.channel], 'its channel is kept');
    t.equal(cal?.channelCheckAt?.getTime(), before.checkAt, 'its due time is unchanged');
    t.equal(cal?.channelEpoch, before.epoch, 'never claimed');
  }
  t.equal(h.emu.channels().filter((c) => !c.stopped).length, 6, 'Google holds one live channel per calendar');
});

t.test('a renewer that dies holding a calendar’s lease is taken over once the lease runs out, and cannot release the new holder’s', async (t) => {
  const h = await startPushHarness(t, { name: 'claims-killed', sync: 'recording' });
  const id = await h.registerCalendar('killed@group.calendar.google.com');
  await calendarModel(h.conn).updateOne({ _id: id }, { $set: { channelCheckAt: new Date(h.now()) } });
  let entered!: () => void;
  const inWork = new Promise<void>((resolve) => (entered = resolve));
  let unblock!: (err: Error) => void;
  const stuck = new Promise<never>((_, reject) => (unblock = reject));
  // The first renewer stalls inside its work (as a process that hangs or dies would).
  const hanging: CalendarClients = {
    forAccount: (accountId) => h.clients.forAccount(accountId),
    forCalendar: async () => {
      entered();
      return stuck;
    },
  };
  const watches = watchCalls(h);
  const dying = service(h, { owner: 'dying', clients: hanging, leaseMs: 2 * 60_000 }).renewDue();
  await inWork;

  const during = await service(h, { owner: 'survivor' }).renewDue();
  t.equal(during.candidates, 0, 'the held calendar is not claimed while the lease lasts');
  h.advance(2 * 60_000 + 1);
  const after = await service(h, { owner: 'survivor' }).renewDue();
  t.equal(after.renewed, 1, 'taken over after the lease ran out');
  t.equal(watchCalls(h) - watches, 1);
  const renewedAt = (await calendarModel(h.conn).findById(id).lean())?.channelCheckAt?.getTime();

  // The stalled renewer wakes up failing: its release is fenced out (the epoch moved on).
  unblock(new Error('woke up too late'));
  const late = await dying;
  t.equal(late.failed.length, 1);
  const cal = await calendarModel(h.conn).findById(id).lean();
  t.equal(cal?.channelCheckAt?.getTime(), renewedAt, 'the new holder’s due time stands');
  t.equal(cal?.channelFailures, 0, 'no failure recorded over its work');
  t.equal((await h.activeChannels(id)).length, 1);
});

t.test('channel calls ask the quota gate first, at renewal priority', async (t) => {
  const h = await startPushHarness(t, { name: 'claims-quota', sync: 'recording' });
  const id = await h.registerCalendar('quota@group.calendar.google.com');
  await calendarModel(h.conn).updateOne({ _id: id }, { $set: { channelCheckAt: new Date(h.now()) } });
  const asked: Array<{ accountId: string; priority: number; watchesSoFar: number; stopsSoFar: number }> = [];
  const quota: QuotaGate = {
    acquire: async (accountId, priority) => {
      asked.push({ accountId, priority, watchesSoFar: watchCalls(h), stopsSoFar: h.emu.stats()['channels.stop'] ?? 0 });
    },
    waitFor: async () => 0,
    throttled: async () => undefined,
  };
  const watches = watchCalls(h);
  const stops = h.emu.stats()['channels.stop'] ?? 0;
  const report = await service(h, { quota }).renewDue();
  t.equal(report.renewed, 1);
  t.equal(watchCalls(h) - watches, 1);
  t.equal((h.emu.stats()['channels.stop'] ?? 0) - stops, 1);
  const accountId = await h.accountId();
  t.same(asked, [
    { accountId, priority: PRIORITY.renewal, watchesSoFar: watches, stopsSoFar: stops },
    { accountId, priority: PRIORITY.renewal, watchesSoFar: watches + 1, stopsSoFar: stops },
  ], 'one permission before the watch, one before the stop');
});
