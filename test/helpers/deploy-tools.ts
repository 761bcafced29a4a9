// Finds the command-line tools the deploy/ tests run. .ci/install-deploy-tools.sh installs them
// (CI runs it before `npm test`). Missing in CI is a failure; on a developer machine that never ran
// the script the test is skipped with the command that installs them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const INSTALL_HINT = 'bash .ci/install-deploy-tools.sh';

const TOOLS = {
  promtool: () => (spawnSync('promtool', ['--version']).status === 0 ? 'promtool' : null),
  'kubernetes-validate': () => {
    const bin = path.join(repoRoot, '.cache', 'kubernetes-validate', 'venv', 'bin', 'kubernetes-validate');
    return existsSync(bin) ? bin : null;
  },
} as const;

/**
 * The tool's command, or null after failing (CI) or skipping (elsewhere) `t` with the reason.
 */
export function requireTool(t: Test, tool: keyof typeof TOOLS): string | null {
  const found = TOOLS[tool]();
  if (found) return found;
  const reason = `${tool} is not installed: run ${INSTALL_HINT}`;
  if (process.env.CI) t.fail(reason);
  else t.plan(0, reason); // a test with no assertions planned is reported as skipped, with the reason
  return null;
}

export function run(cmd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
