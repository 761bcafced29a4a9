// The renewal script as cron runs it: a separate process, configured by the environment.
import t from 'tap';
import { channelModel } from '../../src/channels/channel-model.js';
import { calendarModel } from '../../src/models/calendar.js';
import { startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { harnessScriptEnv, runScript as runNamedScript } from '../helpers/run-script.js';

const runScript = (env: Record<string, string>) => runNamedScript('renew-channels', env);

/** The environment of a cron job pointing at the harness's database and emulator. */
function scriptEnv(h: PushHarness, overrides: Record<string, string> = {}): Record<string, string> {
  return harnessScriptEnv(h, {
    // The harness opened 48 h channels; with a 3-day lead they are all due by the real clock,
    // while the 30-day channels the script opens are not.
    CHANNEL_RENEW_LEAD_SECONDS: '259200',
    CHANNEL_TTL_SECONDS: '2592000',
    ...overrides,
  });
}

// Each test spawns the script as processes that boot, connect and renew: slow on a busy machine.
t.setTimeout(240_000);

t.test('the renewal script run twice at once renews each channel exactly once, and both exit 0', async (t) => {
  const h = await startPushHarness(t, { name: 'renew-script', sync: 'recording' });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await h.registerCalendar(`script-${i}@group.calendar.google.com`));
  // Due by their stored time, as a server configured with the script's 3-day lead would have left them.
  await calendarModel(h.conn).updateMany({ _id: { $in: ids } }, { $set: { channelCheckAt: new Date(h.now()) } });
  const oldIds = h.emu.channels().map((c) => c.id);
  const watches = h.emu.stats()['events.watch'] ?? 0;

  const [a, b] = await Promise.all([runScript(scriptEnv(h)), runScript(scriptEnv(h))]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  t.match(a.stdout, /^renew-channels: ok: /);
  t.equal(a.stdout.trim().split('\n').length, 1, 'one line of output');
  t.equal((h.emu.stats()['events.watch'] ?? 0) - watches, 3, 'one events.watch per channel across both runs');
  for (const id of ids) t.equal((await h.activeChannels(id)).length, 1, 'one active channel per calendar');
  const emu = h.emu.channels();
  t.ok(oldIds.every((id) => emu.find((c) => c.id === id)?.stopped), 'every old channel is stopped at Google');
  t.equal(emu.filter((c) => !c.stopped).length, 3);
  t.equal(await channelModel(h.conn).countDocuments({ status: 'superseded' }), 0, 'nothing is left to stop');
});

t.test('the renewal script exits 1 with a one-line reason when a calendar cannot get a channel', async (t) => {
  const h = await startPushHarness(t, { name: 'renew-script-fail', sync: 'recording' });
  const id = await h.registerCalendar('fail@group.calendar.google.com');
  // Due now (its channel is inside the script's lead).
  await calendarModel(h.conn).updateOne({ _id: id }, { $set: { channelCheckAt: new Date(h.now()) } });
  h.emu.addFault({ method: 'events.watch', status: 401, reason: 'authError', count: 5 });
  const r = await runScript(scriptEnv(h));
  t.equal(r.code, 1);
  t.match(r.stderr, /^renew-channels: 1 of 1 calendar\(s\) could not be given a channel .*HTTP 401 authError/);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.equal(r.stdout, '');
});

t.test('the renewal script exits 1 naming the problem when its configuration is invalid', async (t) => {
  const r = await runScript({ LOG_LEVEL: 'silent' });
  t.equal(r.code, 1);
  t.match(r.stderr, /^renew-channels: invalid configuration: .*MONGODB_URI/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});
