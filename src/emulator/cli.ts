// Standalone emulator: `tsx src/emulator/cli.ts --port 8085 [--host 127.0.0.1] [--log]`.
// Prints one line with the base URL and runs until SIGINT/SIGTERM.

import { parseArgs } from 'node:util';
import { startEmulator } from './index.js';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: emulator [--port N] [--host ADDR] [--log] [--seed-calendar ID] [--seed-account REFRESH_TOKEN]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '8085' },
        host: { type: 'string', default: '127.0.0.1' },
        log: { type: 'boolean', default: false },
        'seed-calendar': { type: 'string', multiple: true },
        'seed-account': { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`invalid --port: ${values.port}`);

  const emulator = await startEmulator({ port, host: values.host, logger: values.log });
  for (const id of values['seed-calendar'] ?? []) emulator.createCalendar(id);
  for (const token of values['seed-account'] ?? []) emulator.addAccount(token);
  process.stdout.write(`Google Calendar emulator listening at ${emulator.url}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`emulator: ${signal}, shutting down\n`);
    emulator.close().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`emulator: close failed: ${String(err)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`emulator: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
