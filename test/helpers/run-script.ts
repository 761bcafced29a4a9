import { spawn } from 'node:child_process';
import path from 'node:path';
import type { PushHarness } from './push-harness.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `scripts/<name>.ts` as cron or an operator would: its own process, configured only by `env`
 * (plus PATH and HOME), so no setting leaks in from the test process.
 */
export function runScript(name: string, env: Record<string, string>): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [path.join(repoRoot, 'scripts', `${name}.ts`)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment of a script pointed at a push harness's database and emulator. */
export function harnessScriptEnv(h: PushHarness, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: h.dbUri,
    PUBLIC_BASE_URL: h.config.publicBaseUrl,
    ADMIN_TOKEN: h.config.adminToken,
    ENCRYPTION_KEY: h.config.encryptionKey.toString('base64'),
    GOOGLE_API_ROOT_URL: h.emu.url,
    GOOGLE_OAUTH_TOKEN_URL: h.emu.tokenUrl,
    GOOGLE_CLIENT_ID: 'test-client',
    GOOGLE_CLIENT_SECRET: 'test-secret',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}
