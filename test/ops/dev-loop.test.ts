import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/lib/child-server.js';
import { testDbUri } from '../helpers/db.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

// `npm run dev` as a new user runs it (on the test database instead of one it would start): the
// demo's changes reach the mirror, and the admin token it generates is usable but never printed.
t.test('the dev loop mirrors its demo changes and never prints the admin token it generates', async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'calsync-dev-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const [port, emulatorPort] = [await freePort(), await freePort()];
  const child = spawn(tsx, [path.join(repoRoot, 'scripts', 'dev.ts')], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      MONGODB_URI: testDbUri('dev-loop'),
      PORT: String(port),
      EMULATOR_PORT: String(emulatorPort),
      // Longer than a sync pass plus the pacing interval, so no change is overtaken by the next.
      DEMO_CHANGE_INTERVAL_MS: '2000',
    },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<string>((resolve) => child.once('close', (code, signal) => resolve(`${code ?? signal}`)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const deadline = Date.now() + 60_000;
  while (!/change 3: .*→ mirrored in \d+ ms/.test(output) && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 200));
  }
  t.match(output, /change 1: inserted .*→ mirrored in \d+ ms/, 'an inserted event reached the mirror');
  t.match(output, /change 2: renamed .*→ mirrored in \d+ ms/, 'a renamed event reached the mirror');
  t.match(output, /change 3: deleted → mirrored in \d+ ms/, 'a deleted event left the mirror');

  const tokenFile = path.join(cwd, '.dev', 'admin-token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the token file is readable by its owner only');
  t.ok(token.length >= 32, 'a generated token');
  t.notOk(output.includes(token), 'the token appears nowhere in the output');
  t.match(output, /curl -H "Authorization: Bearer \$\(cat \.dev\/admin-token\)"/, 'the hints read the token from its file');

  const calendarId = /\/admin\/calendars\/([0-9a-f]{24})/.exec(output)?.[1];
  const res = await fetch(`http://127.0.0.1:${port}/admin/calendars/${calendarId}`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(res.status, 200, 'the printed admin hint works with the token from the file');

  child.kill('SIGINT');
  t.equal(await exited, '0', 'Ctrl-C stops it cleanly');
  t.notMatch(output, /NOT in the mirror|shutdown failed/);
});
