import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/env.js';
import { repoRoot, requireTool, run } from '../helpers/deploy-tools.js';

const DIR = 'deploy/kubernetes';
/** Oldest and newest Kubernetes releases the manifests are checked against (schemas shipped by kubernetes-validate). */
const KUBERNETES_VERSIONS = ['1.29.0', '1.37.0'];
/** Variables that must come from the calsync-secrets Secret, never from a committed file. */
const SECRET_KEYS = ['MONGODB_URI', 'ADMIN_TOKEN', 'ENCRYPTION_KEY', 'GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET'];

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML

// kustomization.yaml is kubectl's build file, not an API object: it has no Kubernetes schema.
const resourceFiles = readdirSync(path.join(repoRoot, DIR))
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();
const docs: Obj[] = resourceFiles.flatMap((f) =>
  parseAllDocuments(readFileSync(path.join(repoRoot, DIR, f), 'utf8')).map((d) => d.toJS() as Obj),
);
const byKind = (kind: string): Obj[] => docs.filter((d) => d.kind === kind);
const one = (kind: string): Obj => {
  const found = byKind(kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
};

t.test('every manifest validates offline against the Kubernetes schemas, strictly (no unknown fields)', async (t) => {
  const validate = requireTool(t, 'kubernetes-validate');
  if (!validate) return;
  for (const version of KUBERNETES_VERSIONS) {
    const r = run(validate, ['--strict', '-k', version, ...resourceFiles.map((f) => path.join(DIR, f))]);
    t.equal(r.status, 0, `Kubernetes ${version}:\n${r.output}`);
    // An unknown kind only warns (exit 0): every file must say it passed.
    t.notMatch(r.output, /WARN|ERROR/, `no warning for ${version}`);
    for (const f of resourceFiles) t.match(r.output, `${path.join(DIR, f)} passed`, `${f} on ${version}`);
  }
});

t.test('the validator rejects a misspelt field (the check can fail)', async (t) => {
  const validate = requireTool(t, 'kubernetes-validate');
  if (!validate) return;
  const source = readFileSync(path.join(repoRoot, DIR, 'deployment.yaml'), 'utf8');
  const dir = t.testdir({ 'deployment.yaml': source.replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true') });
  const r = run(validate, ['--strict', '-k', KUBERNETES_VERSIONS[0]!, path.join(dir, 'deployment.yaml')]);
  t.not(r.status, 0);
  t.match(r.output, /readOnlyRootFileSystem/);
});

t.test('the Deployment runs several non-root replicas on a read-only root with probes and resources', async (t) => {
  const deployment = one('Deployment');
  t.ok(deployment.spec.replicas >= 3, 'at least 3 replicas');
  const pod = deployment.spec.template.spec;
  t.equal(pod.securityContext.runAsNonRoot, true);
  t.not(pod.securityContext.runAsUser, 0);
  const [container] = pod.containers as Obj[];
  t.same(container!.command, ['node', 'dist/src/server.js']);
  t.equal(container!.securityContext.readOnlyRootFilesystem, true);
  t.equal(container!.securityContext.allowPrivilegeEscalation, false);
  t.same(container!.securityContext.capabilities.drop, ['ALL']);
  t.equal(container!.livenessProbe.httpGet.path, '/healthz');
  t.equal(container!.readinessProbe.httpGet.path, '/readyz');
  for (const kind of ['requests', 'limits']) t.ok(container!.resources[kind].cpu && container!.resources[kind].memory, `${kind} set`);
  const tmp = (container!.volumeMounts as Obj[]).find((m) => m.mountPath === '/tmp');
  t.ok(tmp && (pod.volumes as Obj[]).some((v) => v.name === tmp.name && v.emptyDir), '/tmp is a writable emptyDir');
  t.equal(container!.ports[0].containerPort, Number(one('ConfigMap').data.PORT), 'listens where PORT says');
  // src/server.ts: SIGTERM drains, then closing gets 20 s; Kubernetes kills the pod after the grace period.
  const drain = Number(one('ConfigMap').data.SHUTDOWN_DRAIN_SECONDS ?? 5);
  t.ok(pod.terminationGracePeriodSeconds > drain + 20, `grace ${pod.terminationGracePeriodSeconds} s outlasts drain ${drain} s + close 20 s`);
});

t.test('Service, PodDisruptionBudget and CronJob point at the Deployment', async (t) => {
  const deployment = one('Deployment');
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  t.same(deployment.spec.selector.matchLabels, podLabels, 'the Deployment selects its own pods');
  const service = one('Service');
  t.ok(selects(service.spec.selector), 'the Service selects the server pods');
  t.equal(service.spec.ports[0].targetPort, deployment.spec.template.spec.containers[0].ports[0].name);
  const pdb = one('PodDisruptionBudget');
  t.ok(selects(pdb.spec.selector.matchLabels), 'the PDB covers the server pods');
  t.ok(pdb.spec.maxUnavailable < deployment.spec.replicas, 'a drain never takes every replica');

  const cron = one('CronJob');
  const job = cron.spec.jobTemplate.spec.template.spec;
  const [container] = job.containers as Obj[];
  t.same(container!.command, ['node', 'dist/scripts/renew-channels.js']);
  t.equal(container!.image, deployment.spec.template.spec.containers[0].image, 'the same image as the servers');
  t.equal(cron.spec.concurrencyPolicy, 'Forbid');
  t.equal(job.securityContext.runAsNonRoot, true);
  t.equal(container!.securityContext.readOnlyRootFilesystem, true);
  t.same(container!.envFrom, deployment.spec.template.spec.containers[0].envFrom, 'the same configuration as the servers');
});

t.test('secrets are referenced, never committed, and the ConfigMap plus those secrets is a valid configuration', async (t) => {
  t.same(byKind('Secret'), [], 'no Secret object in the repository');
  const config = one('ConfigMap');
  const data = config.data as Record<string, string>;
  for (const key of SECRET_KEYS) t.notOk(key in data, `${key} is not in the ConfigMap`);

  const envFrom = one('Deployment').spec.template.spec.containers[0].envFrom as Obj[];
  t.same(envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name), [config.metadata.name, 'calsync-secrets']);

  // Every ConfigMap key is a documented variable (a typo would be silently ignored at boot).
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| (`[A-Z_]+`(?: \/ `[A-Z_]+`)*) \|/gm)].flatMap((m) => m[1]!.match(/[A-Z_]+/g)!));
  for (const key of Object.keys(data)) t.ok(documented.has(key), `${key} is a documented variable`);

  const secrets = {
    MONGODB_URI: 'mongodb://db-0.example:27017,db-1.example:27017/calsync?replicaSet=rs0',
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GOOGLE_CLIENT_ID: 'client-id',
    GOOGLE_CLIENT_SECRET: 'client-secret',
  };
  t.doesNotThrow(() => loadConfig({ ...data, ...secrets }), 'boots with the ConfigMap and the documented secrets');
});
