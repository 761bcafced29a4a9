import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot, requireTool, run } from '../helpers/deploy-tools.js';

const RULES = 'deploy/prometheus/alerts.yml';
const RULE_TESTS = 'deploy/prometheus/alerts.test.yml';

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(path.join(repoRoot, RULES), 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups;
const rules = groups.flatMap((g) => g.rules);

t.test('promtool accepts the alerting rules', async (t) => {
  const promtool = requireTool(t, 'promtool');
  if (!promtool) return;
  const r = run(promtool, ['check', 'rules', RULES]);
  t.equal(r.status, 0, r.output);
  t.match(r.output, `SUCCESS: ${rules.length} rules found`);
});

t.test('promtool unit tests fire and clear every alert', async (t) => {
  const promtool = requireTool(t, 'promtool');
  if (!promtool) return;
  const r = run(promtool, ['test', 'rules', RULE_TESTS]);
  t.equal(r.status, 0, r.output);

  // Every alert is tested both firing (exp_alerts non-empty) and clear (an empty exp_alerts).
  const cases = (parse(readFileSync(path.join(repoRoot, RULE_TESTS), 'utf8')) as {
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
  }).tests.flatMap((c) => c.alert_rule_test ?? []);
  for (const { alert } of rules) {
    const mine = cases.filter((c) => c.alertname === alert);
    t.ok(mine.some((c) => c.exp_alerts.length > 0), `${alert} is tested firing`);
    t.ok(mine.some((c) => c.exp_alerts.length === 0), `${alert} is tested clear`);
  }
});

t.test('the rules cover the alerts the issue asks for, each with a runbook section', async (t) => {
  t.same(
    rules.map((r) => r.alert).sort(),
    [
      'CalsyncAccountReauthRequired',
      'CalsyncApiErrorRateHigh',
      'CalsyncChannelsExpiringUnrenewed',
      'CalsyncFallbackSpike',
      'CalsyncPingToMirrorSlow',
      'CalsyncQuotaBudgetExhausted',
      'CalsyncSubscriptionsFailing',
      'CalsyncSyncSlow',
      'CalsyncTokenExpirationRateHigh',
    ],
  );
  const operations = readFileSync(path.join(repoRoot, 'docs/operations.md'), 'utf8');
  // GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens.
  const anchors = new Set(
    [...operations.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
  );
  for (const rule of rules) {
    const link = rule.annotations?.runbook_url ?? '';
    const [file, anchor] = link.split('#');
    t.equal(file, 'docs/operations.md', `${rule.alert} links into docs/operations.md`);
    t.ok(anchor && anchors.has(anchor), `${rule.alert}: docs/operations.md has a section #${anchor}`);
  }
});
