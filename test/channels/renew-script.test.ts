// The renewal script as cron runs it: a separate process, configured by the environment.
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { channelModel } from '../../src/channels/channel-model.js';
import { calendarModel } from '../../src/models/calendar.js';
import { startPushHarness, type PushHarness } from '../helpers/push-harness.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [path.join(repoRoot, 'scripts', 'renew-channels.ts')], {
      cwd: repoRoot,
      // Only what the script needs: no inherited MONGODB_URI or other settings.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment of a cron job pointing at the harness's database and emulator. */
function scriptEnv(h: PushHarness, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: h.dbUri,
    PUBLIC_BASE_URL: h.config.publicBaseUrl,
    ADMIN_TOKEN: h.config.adminToken,
    ENCRYPTION_KEY: h.config.encryptionKey.toString('base64'),
    GOOGLE_API_ROOT_URL: h.emu.url,
    GOOGLE_OAUTH_TOKEN_URL: h.emu.tokenUrl,
    GOOGLE_CLIENT_ID: 'test-client',
    GOOGLE_CLIENT_SECRET: 'test-secret',
    LOG_LEVEL: 'silent',
    // The harness opened 48 h channels; with a 3-day lead they are all due by the real clock,
    // while the 30-day channels the script opens are not.
    CHANNEL_RENEW_LEAD_SECONDS: '259200',
    CHANNEL_TTL_SECONDS: '2592000',
    ...overrides,
  };
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
