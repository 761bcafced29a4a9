// `npx tsx bench/merge-results.ts <results.json>...`: combines runs made apart (for example partial
// runs on separate checkouts) into bench/results/latest.json and docs/benchmarks.md, keeping for
// each scenario its newest measurement, still credited to the run that made it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, type BenchResults, type ScenarioKey, type ScenarioProvenance } from './lib/report.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx bench/merge-results.ts <results.json>... (the newest measurement of each scenario wins)');
  process.exit(2);
}

const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as BenchResults));
const own = (r: BenchResults): ScenarioProvenance => ({
  command: r.command,
  commit: r.commit,
  startedAt: r.startedAt,
  loadAvgStart: r.machine.loadAvgStart,
  loadAvgEnd: r.machine.loadAvgEnd,
  resultsFile: r.resultsFile,
});
// The run the merged file describes at its top: the newest one.
const newest = runs.reduce((a, b) => (a.startedAt >= b.startedAt ? a : b));
const merged: BenchResults = { ...newest, scenarios: {}, provenance: {}, errors: {} };
for (const run of runs) {
  if (run.quick) throw new Error(`${run.resultsFile}: a --quick run is not merged into the published results`);
  for (const key of Object.keys(run.scenarios) as ScenarioKey[]) {
    const from = run.provenance?.[key] ?? own(run);
    const current = merged.provenance[key];
    if (current && current.startedAt >= from.startedAt) continue;
    (merged.scenarios as Record<string, unknown>)[key] = run.scenarios[key];
    merged.provenance[key] = from;
  }
}
const json = `${JSON.stringify(merged, null, 2)}\n`;
await writeFile(path.join(root, 'bench', 'results', 'latest.json'), json);
await writeFile(path.join(root, 'docs', 'benchmarks.md'), renderMarkdown(merged));
for (const [key, p] of Object.entries(merged.provenance)) console.log(`${key}: ${p.startedAt} (${p.command})`);
