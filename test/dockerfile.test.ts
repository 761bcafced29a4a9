import t from 'tap';
import { readFileSync } from 'node:fs';

// No Docker engine runs here, so the image is checked as text: the properties we promise operators.
const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.filter((l) => /^FROM /i.test(l));
const runtimeStart = instructions.lastIndexOf(stages[stages.length - 1] ?? '');
const runtime = instructions.slice(runtimeStart);

t.test('the image is a multi-stage build whose final stage only copies from earlier stages', async (t) => {
  t.ok(stages.length >= 2, 'at least two stages');
  t.match(stages[stages.length - 1] ?? '', /AS runtime/i);
  t.notOk(runtime.some((l) => /^RUN npm (ci|install)(?!.*--omit=dev)/.test(l)), 'no dev dependencies installed in the final stage');
  t.ok(instructions.some((l) => /npm ci --omit=dev/.test(l)), 'production dependencies only');
});

t.test('the server runs as a non-root user', async (t) => {
  const user = runtime.filter((l) => /^USER /i.test(l)).pop();
  t.ok(user, 'final stage sets USER');
  t.notMatch(user ?? '', /^USER (root|0)\b/i);
});

t.test('HEALTHCHECK probes /healthz and CMD runs the compiled server', async (t) => {
  t.ok(runtime.some((l) => /^HEALTHCHECK .*\/healthz/.test(l)));
  const cmd = runtime.filter((l) => /^CMD /.test(l)).pop() ?? '';
  t.match(cmd, /"node", "dist\/src\/server\.js"/);
});
