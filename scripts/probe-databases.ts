// Starts every MongoDB-compatible candidate the project can install itself, runs the
// capability probe against each, and prints one markdown table with them side by side.
// The result is recorded in docs/database.md; re-run it when a candidate's version changes.
//   npx tsx scripts/probe-databases.ts
import { probeCapabilities, REQUIRED_CAPABILITIES, type ProbeRow } from './lib/db-probe.js';
import { FERRETDB_VERSION, startFerretDb } from './lib/ferretdb.js';
import { SECANTUSDB_VERSION, startSecantusDb, type RunningDb } from './lib/secantusdb.js';

const log = (msg: string): void => void process.stderr.write(`[probe] ${msg}\n`);

const candidates: Array<{ name: string; start: () => Promise<RunningDb> }> = [
  { name: `SecantusDB ${SECANTUSDB_VERSION}`, start: () => startSecantusDb(log) },
  { name: `FerretDB ${FERRETDB_VERSION} (SQLite)`, start: () => startFerretDb(log) },
];

async function probe(c: (typeof candidates)[number]): Promise<ProbeRow[]> {
  let db: RunningDb;
  const t0 = Date.now();
  try {
    db = await c.start();
  } catch (err) {
    return [{ capability: 'connect', ok: false, detail: `could not start: ${(err as Error).message.split('\n')[0]}` }];
  }
  log(`${c.name} ready in ${Date.now() - t0} ms at ${db.uri}`);
  try {
    const t1 = Date.now();
    const rows = await probeCapabilities(db.uri);
    log(`${c.name} probed in ${Date.now() - t1} ms`);
    return rows;
  } finally {
    await db.stop();
  }
}

const results = new Map<string, ProbeRow[]>();
for (const c of candidates) results.set(c.name, await probe(c));

const names = [...results.keys()];
const capabilities = [...new Set([...results.values()].flatMap((rows) => rows.map((r) => r.capability)))];
const required = new Set<string>(REQUIRED_CAPABILITIES);
const cell = (r: ProbeRow | undefined): string =>
  r ? `${r.ok ? 'yes' : '**NO**'}: ${r.detail.replaceAll('|', '\\|')}` : 'not run';

const out = [
  `| capability | required | ${names.join(' | ')} |`,
  `| --- | --- | ${names.map(() => '---').join(' | ')} |`,
  ...capabilities.map(
    (cap) =>
      `| ${cap} | ${required.has(cap) ? 'yes' : 'no'} | ${names.map((n) => cell(results.get(n)!.find((r) => r.capability === cap))).join(' | ')} |`,
  ),
];
process.stdout.write(`Probed ${new Date().toISOString().slice(0, 10)} on node ${process.version}\n\n${out.join('\n')}\n\n`);
for (const n of names) {
  const missing = [...required].filter((cap) => !results.get(n)!.find((r) => r.capability === cap)?.ok);
  process.stdout.write(`- ${n}: ${missing.length ? `missing required: ${missing.join(', ')}` : 'all required capabilities ok'}\n`);
}
