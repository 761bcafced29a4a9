// The Grafana dashboard and the alert rules may only query series calsync exports, with label
// names those series carry: a renamed metric or a misspelt label would otherwise leave a panel or
// an alert silently empty. The names come from the app's own registry (src/metrics/registry.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Histogram, Summary } from 'prom-client';
import { createMetrics } from '../../src/metrics/registry.js';
import { repoRoot } from '../helpers/deploy-tools.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'deploy/grafana/calsync.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string }> };
};
const panelQueries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ where: `panel "${p.title}"`, expr: q.expr })));
const ruleQueries = (
  parse(readFileSync(path.join(repoRoot, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }
).groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));

/** Series name → label names, for every metric calsync registers (histograms add _bucket/_sum/_count). */
function exportedSeries(): Map<string, Set<string>> {
  const { registry } = createMetrics();
  const series = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name } = metric as unknown as { name: string };
    const type = metric instanceof Histogram ? 'histogram' : metric instanceof Summary ? 'summary' : 'other';
    // prom-client keeps each metric's declared label names on the instance (not in its typings).
    const labelNames = (metric as unknown as { labelNames?: unknown }).labelNames;
    if (!Array.isArray(labelNames)) throw new Error(`cannot read the label names of ${name}: has prom-client changed?`);
    const labels = new Set(labelNames as string[]);
    const suffixes = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const s of suffixes) series.set(`${name}${s}`, new Set([...labels, ...(s === '_bucket' ? ['le'] : type === 'summary' && s === '' ? ['quantile'] : [])]));
  }
  return series;
}
const exported = exportedSeries();

// Labels Prometheus adds to every scraped series (target labels), usable in any expression.
const TARGET_LABELS = ['instance', 'job', 'pod', 'namespace'];

/** The part of a tap Test the check uses (so it can also be run against a probe). */
interface Asserter {
  ok(value: unknown, message: string): unknown;
}

function check(t: Asserter, where: string, expr: string): void {
  const names = [...new Set(expr.match(/\bcalsync_[a-z0-9_]+/g) ?? [])];
  t.ok(names.length > 0, `${where} queries calsync series`);
  const known = new Set(TARGET_LABELS);
  for (const name of names) {
    const labels = exported.get(name);
    t.ok(labels, `${where}: ${name} is exported by calsync`);
    for (const l of labels ?? []) known.add(l);
  }
  // Label names in selectors ({a="…"}) and in by (…) / without (…) clauses.
  const used = [
    ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)),
    ...[...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean)),
  ];
  for (const label of used) t.ok(known.has(label), `${where}: label "${label}" exists on ${names.join(', ')}`);
}

t.test('every series and label the Grafana dashboard queries is one calsync exports', async (t) => {
  t.ok(panelQueries.length >= 20, `${panelQueries.length} panel queries`);
  for (const q of panelQueries) check(t, q.where, q.expr);
});

t.test('every series and label the alert rules query is one calsync exports', async (t) => {
  for (const q of ruleQueries) check(t, q.where, q.expr);
});

t.test('the check catches an unknown series and an unknown label', async (t) => {
  const results: boolean[] = [];
  const probe: Asserter = { ok: (v) => results.push(Boolean(v)) };
  check(probe, 'probe', 'sum(rate(calsync_syncs_totl[5m]))');
  t.ok(results.includes(false), 'a misspelt metric fails');
  results.length = 0;
  check(probe, 'probe', 'sum by (modus) (rate(calsync_syncs_total[5m]))');
  t.ok(results.includes(false), 'a misspelt label fails');
  results.length = 0;
  check(probe, 'probe', 'sum by (mode, le) (rate(calsync_sync_duration_seconds_bucket{mode="full"}[5m]))');
  t.notOk(results.includes(false), 'real names pass');
});

t.test('the dashboard shows what the issue asks for', async (t) => {
  const all = panelQueries.map((q) => q.expr).join('\n');
  t.match(all, /by \(mode, outcome\) \(rate\(calsync_syncs_total/, 'syncs by mode and outcome');
  t.match(all, /calsync_full_sync_fallbacks_total/, 'fallbacks');
  t.match(all, /calsync_google_api_calls_total/, 'API calls');
  t.match(all, /calsync_full_polling_equivalent_calls_total/, 'the full-polling baseline');
  t.match(all, /histogram_quantile\(0\.5, sum by \(le\) \(rate\(calsync_ping_to_mirror_seconds_bucket/, 'freshness p50');
  t.match(all, /histogram_quantile\(0\.99, sum by \(le\) \(rate\(calsync_ping_to_mirror_seconds_bucket/, 'freshness p99');
  t.match(all, /by \(status\) \(calsync_channels\)/, 'channels by state');
  t.match(all, /calsync_quota_budget_used_ratio/, 'quota use');
});

t.test('the dashboard is importable: a datasource variable, unique panel ids, panels inside the 24-column grid', async (t) => {
  t.equal(dashboard.uid, 'calsync');
  t.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'), 'datasource chosen on import');
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const p of dashboard.panels) t.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
});
