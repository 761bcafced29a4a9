// SecantusDB: a MongoDB wire-protocol server in Python over WiredTiger, installed by the
// project into a private venv under .cache/ and run as a child process per test run.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, repoRoot } from './paths.js';
import { freePort, run, scratchDir, spawnServer, withLock, type Log, type ServerProcess } from './child-server.js';

export const SECANTUSDB_VERSION = '0.7.0b3';

const requirementsFile = path.join(repoRoot, 'scripts', 'secantusdb', 'requirements.txt');
const installDir = path.join(cacheDir, `secantusdb-${SECANTUSDB_VERSION}`);
const venvDir = path.join(installDir, 'venv');
const marker = path.join(installDir, 'installed.txt');
const venvPython = path.join(venvDir, 'bin', 'python');
const serverScript = path.join(venvDir, 'bin', 'secantusd-py');

// Runs before exec'ing the server: PR_SET_PDEATHSIG makes the kernel send SIGKILL to the server
// when the process that spawned it dies, even by SIGKILL, so no database outlives a test run. Not
// SIGTERM: a server stuck inside WiredTiger holds Python's GIL and never runs its SIGTERM handler.
// Its data is a scratch dir, removed by the next run.
// The getppid check closes the race of a parent that died before prctl ran.
const LAUNCHER = [
  'import ctypes, os, signal, sys',
  'try:',
  '    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)',
  'except Exception:',
  '    pass',
  'if os.getppid() != int(sys.argv[1]):',
  '    sys.exit(1)',
  'os.execv(sys.argv[2], sys.argv[2:])',
].join('\n');

// The server's own entry point (`secantusd-py`), with two corrections to SecantusDB 0.7.0b3:
// - The TTL sweep interval: it reads `[storage] ttl_sweep_seconds` from its config file but its CLI
//   never passes it on to the server, so the interval is handed to the server's constructor here.
// - A deadlock. An insert into a collection that does not exist yet takes the collection's lock,
//   writes the new collection's catalog row in its open transaction, then waits for the storage
//   lock. An explicit create of the same collection (mongoose creates each model's collection and
//   indexes in the background) holds the storage lock and writes the same row, which conflicts with
//   the insert's uncommitted one: each waits for the other, and the whole server with them, since
//   every operation needs the storage lock. Its own rule is "the collection's lock before the
//   storage lock"; `create_collection` skipped the first, so here it takes it. (Seen as a test file
//   stuck for its 60 s on a fresh server in about one run in five; see docs/database.md.)
const SERVER_ENTRY = [
  'import os, sys',
  'from secantus import server as _server',
  'from secantus import storage as _storage',
  '_create = _storage.Storage.create_collection',
  'def _create_in_lock_order(self, db, coll, options=None):',
  '    with self._coll_lock(db, coll):',
  '        return _create(self, db, coll, options)',
  '_storage.Storage.create_collection = _create_in_lock_order',
  "_sweep = os.environ.get('CALSYNC_SECANTUS_TTL_SWEEP_SECONDS', '')",
  'if _sweep:',
  '    _init = _server.SecantusDBServer.__init__',
  '    def _with_sweep(self, *a, **k):',
  "        k.setdefault('ttl_sweep_seconds', float(_sweep))",
  '        _init(self, *a, **k)',
  '    _server.SecantusDBServer.__init__ = _with_sweep',
  'from secantus.cli import main',
  "sys.argv[0] = 'secantusd-py'",
  'sys.exit(main())',
].join('\n');

function findPython(): string {
  for (const candidate of ['python3', 'python']) {
    const r = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info >= (3, 10))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return candidate;
  }
  throw new Error(
    'SecantusDB needs Python >= 3.10 with the venv module (Debian: apt-get install python3-venv; see .ci/install-db.sh)',
  );
}

/** Installs the pinned SecantusDB into .cache/ once; later calls only check the marker. */
export async function ensureSecantusDb(log: Log): Promise<string> {
  const wanted = await readFile(requirementsFile, 'utf8');
  const isInstalled = async (): Promise<boolean> =>
    existsSync(serverScript) && (await readFile(marker, 'utf8').catch(() => '')) === wanted;
  if (await isInstalled()) return serverScript;

  return withLock(`${installDir}.lock`, log, async () => {
    if (await isInstalled()) return serverScript;
    const started = Date.now();
    log(`installing SecantusDB ${SECANTUSDB_VERSION} into ${path.relative(repoRoot, venvDir)} (first run only)`);
    await rm(installDir, { recursive: true, force: true });
    await mkdir(installDir, { recursive: true });
    await run(findPython(), ['-m', 'venv', venvDir], log);
    await run(
      venvPython,
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '-r', requirementsFile],
      log,
    );
    await writeFile(marker, wanted);
    log(`SecantusDB installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return serverScript;
  });
}

export interface RunningDb {
  uri: string;
  stop(): Promise<void>;
  /** The last few KB the server printed, where the server is a child of ours. */
  output?(): string;
  /** Kills a server of ours at once and removes its data, synchronously (a process's `exit` handler). */
  kill?(): void;
}

export interface SecantusDbOptions {
  /**
   * Seconds between TTL sweeps (SecantusDB's default, like mongod's, is 60; 0 turns them off).
   * SecantusDB's sweeper reads every document of every TTL-indexed collection while holding its
   * storage-wide lock, so on a server holding many test databases each sweep stalls every client;
   * MongoDB's TTL monitor does not. No test relies on the sweeper (expiry is checked by the code
   * that reads, and the TTL indexes are checked as indexes), so the test runner turns it off.
   */
  ttlSweepSeconds?: number;
}

/** Starts SecantusDB on a free 127.0.0.1 port with its data in a scratch dir removed by stop(). */
export async function startSecantusDb(log: Log, opts: SecantusDbOptions = {}): Promise<RunningDb> {
  await ensureSecantusDb(log);
  const dataDir = await scratchDir('secantusdb');
  const port = await freePort();

  let server: ServerProcess;
  try {
    server = await spawnServer({
      name: `SecantusDB ${SECANTUSDB_VERSION}`,
      command: venvPython,
      args: [
        '-c', LAUNCHER, String(process.pid),
        venvPython, '-c', SERVER_ENTRY,
        '--host', '127.0.0.1',
        '--port', String(port),
        '--storage-path', dataDir,
        '--log-level', 'WARNING',
      ],
      port,
      log,
      // Keep the server's own sys.path free of anything the caller's environment adds.
      env: {
        ...process.env,
        PYTHONPATH: '',
        PYTHONNOUSERSITE: '1',
        CALSYNC_SECANTUS_TTL_SWEEP_SECONDS: opts.ttlSweepSeconds === undefined ? '' : String(Number(opts.ttlSweepSeconds)),
      },
    });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    // SecantusDB advertises a single-node replica set named "secantus" (so transactions and
    // change streams are accepted); directConnection skips replica-set discovery of its host list.
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    output: () => server.output(),
    kill() {
      server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
