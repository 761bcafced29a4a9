// FerretDB v1.24.2 on its SQLite backend, built by the project from the small wrapper module in
// scripts/ferretdb/ (the upstream cmd/ferretdb binary panics when installed with `go install`).
// Kept as the comparison candidate for scripts/probe-databases.ts; see docs/database.md for why
// tests do not run on it (its findAndModify is not atomic).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, repoRoot } from './paths.js';
import { freePort, run, scratchDir, spawnServer, withLock, type Log, type ServerProcess } from './child-server.js';
import type { RunningDb } from './secantusdb.js';

export const FERRETDB_VERSION = '1.24.2';

const sourceDir = path.join(repoRoot, 'scripts', 'ferretdb');
const buildDir = path.join(cacheDir, 'ferretdb');
const binary = path.join(buildDir, 'ferretdb-calsync');
const marker = path.join(buildDir, 'source.sha256');

async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum']) hash.update(await readFile(path.join(sourceDir, file)));
  return hash.digest('hex');
}

/** Builds the wrapper into .cache/ferretdb/ once; rebuilt only when its source changes. */
export async function ensureFerretDb(log: Log): Promise<string> {
  const wanted = await sourceHash();
  const isBuilt = async (): Promise<boolean> =>
    existsSync(binary) && (await readFile(marker, 'utf8').catch(() => '')) === wanted;
  if (await isBuilt()) return binary;

  return withLock(`${buildDir}.lock`, log, async () => {
    if (await isBuilt()) return binary;
    const started = Date.now();
    log(`building FerretDB ${FERRETDB_VERSION} into ${path.relative(repoRoot, buildDir)} (first run only)`);
    await rm(buildDir, { recursive: true, force: true });
    await mkdir(buildDir, { recursive: true });
    await run('go', ['build', '-trimpath', '-o', binary, '.'], log, { cwd: sourceDir });
    await writeFile(marker, wanted);
    log(`FerretDB built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return binary;
  });
}

/** Starts FerretDB on a free 127.0.0.1 port with its SQLite files in a scratch dir removed by stop(). */
export async function startFerretDb(log: Log): Promise<RunningDb> {
  const bin = await ensureFerretDb(log);
  const dataDir = await scratchDir('ferretdb');
  const port = await freePort();
  let server: ServerProcess;
  try {
    server = await spawnServer({
      name: `FerretDB ${FERRETDB_VERSION}`,
      command: bin,
      args: ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-dir', dataDir, '--exit-on-stdin-eof'],
      port,
      log,
    });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
