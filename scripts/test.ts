// `npm test` (after lint and typecheck): provisions the test database, runs tap against it
// with MONGODB_URI set, stops the database and exits with tap's exit code.
// Extra arguments go to tap:  npm run test:run -- test/db-capabilities.test.ts
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describeStalls, runningTestFiles, watchDatabase, type DbWatch } from './lib/db-watch.js';
import { startLocalDb, type LocalDb } from './lib/local-db.js';
import { repoRoot } from './lib/paths.js';

const log = (msg: string): void => void process.stderr.write(`[test] ${msg}\n`);

if (process.env.TAP === '1') {
  // Picked up as a test file by tap itself: running tap again from here would recurse.
  log('scripts/test.ts is the test runner, not a test file; check the include list in .taprc');
  process.exit(1);
}

let db: LocalDb;
const t0 = Date.now();
try {
  db = await startLocalDb({ secantusDb: { ttlSweepSeconds: 0 } });
} catch (err) {
  process.stderr.write(
    `\n[test] FAILED: no test database could be provisioned, so no test ran.\n${(err as Error).stack ?? String(err)}\n\n`,
  );
  process.exit(2);
}
log(`test database: ${db.kind} at ${db.uri} (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
// Watched from outside: when it stops answering, the run's 60 s timeouts are told apart from the
// tests' own failures at the end of the output. With a server per test file it carries no test's
// load, so a stall here is the machine's, not one file's.
let watch: DbWatch | undefined;
try {
  watch = await watchDatabase(db.uri, { sample: () => runningTestFiles(repoRoot) });
} catch (err) {
  log(`cannot watch the test database: ${(err as Error).message}`);
}

const tap = spawn(path.join(repoRoot, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
  stdio: ['inherit', 'pipe', 'inherit'],
  // On a SecantusDB we started ourselves, each test file runs on a server of its own (test/helpers/file-db.ts);
  // a MongoDB given in MONGODB_URI is shared by all.
  env: { ...process.env, MONGODB_URI: db.uri, ...(db.kind === 'secantusdb' ? { CALSYNC_TEST_DB_PER_FILE: '1' } : {}) },
});

// tap's own closing line is `# { total: N, pass: N, fail: N, … }`; CI tooling reads the plain
// form, so it is repeated as `tests: N passed, N failed, N skipped` once tap is done.
let summary: Record<string, number> | null = null;
let pending = '';
tap.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  pending += chunk.toString('utf8');
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^# \{ (total: \d+.*) \}\s*$/.exec(line);
    if (m?.[1]) summary = Object.fromEntries(m[1].split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)]));
  }
});

// Ctrl-C reaches tap through the terminal's process group; a SIGTERM sent to us alone is passed
// on. Either way we stay alive until tap has exited, so the database is always stopped.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (tap.exitCode === null) tap.kill(signal);
  });
}

const code = await new Promise<number>((resolve) => {
  tap.once('error', (err) => {
    log(`could not run tap: ${err.message}`);
    resolve(2);
  });
  tap.once('exit', (status, signal) => resolve(status ?? (signal ? 1 : 2)));
});

const stalls = (await watch?.stop()) ?? [];
if (stalls.length > 0) {
  const whose = db.kind === 'secantusdb' ? "the runner's own database server (no test file runs on it)" : 'the test database';
  process.stdout.write(`\n# ${whose} stalled ${stalls.length} time(s); files running meanwhile may have timed out because of it:\n`);
  for (const line of describeStalls(stalls)) process.stdout.write(`#   ${line}\n`);
}
const serverSaid = db.output?.().trim();
if ((stalls.length > 0 || code !== 0) && serverSaid) {
  process.stdout.write(`\n# the test database printed (last lines):\n${serverSaid.split('\n').slice(-20).map((l) => `#   ${l}`).join('\n')}\n`);
}

if (summary) {
  const s = summary as Record<string, number>;
  process.stdout.write(`\ntests: ${s.pass ?? 0} passed, ${s.fail ?? 0} failed, ${(s.skip ?? 0) + (s.todo ?? 0)} skipped\n`);
} else {
  process.stdout.write(`\ntests: tap printed no summary (exit ${code})\n`);
}

try {
  await db.stop();
} catch (err) {
  log(`stopping the test database failed: ${(err as Error).message}`);
}
process.exit(code);
