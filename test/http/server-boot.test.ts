import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnv } from '../helpers/config.js';

const serverEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

function runServer(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

t.test('a bad environment stops the server with one message naming every problem and no stack trace', async (t) => {
  const { code, stderr } = await runServer(
    testEnv({ PORT: 'nope', ADMIN_TOKEN: 'short', ENCRYPTION_KEY: 'bad', MONGODB_URI: 'http://wrong' }),
  );
  t.not(code, 0);
  t.match(stderr, /^calsync: invalid configuration:/);
  for (const name of ['PORT', 'ADMIN_TOKEN', 'ENCRYPTION_KEY', 'MONGODB_URI']) t.match(stderr, name);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  t.notMatch(stderr, /short/, 'the bad secret is not echoed');
});

t.test('an unreachable database stops the server with a clear message', async (t) => {
  const { code, stderr } = await runServer(
    testEnv({ MONGODB_URI: 'mongodb://127.0.0.1:9/calsync?serverSelectionTimeoutMS=300&directConnection=true' }),
  );
  t.not(code, 0);
  t.match(stderr, /cannot connect to MongoDB/);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
});
