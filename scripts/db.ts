// `npm run db`: a local MongoDB-compatible database for development. Prints exactly one line,
// `MONGODB_URI=<uri>`, on stdout (logs go to stderr) and runs until SIGINT or SIGTERM.
// Data lives in a scratch directory and is gone when it stops.
import { startLocalDb } from './lib/local-db.js';

const db = await startLocalDb().catch((err: Error) => {
  process.stderr.write(`[db] could not start a local database: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

process.stdout.write(`MONGODB_URI=${db.uri}\n`);
if (db.kind === 'env') process.exit(0); // nothing of ours to keep running

process.stderr.write(`[db] ${db.kind} running; Ctrl-C to stop\n`);
const keepAlive = setInterval(() => {}, 1 << 30);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    db.stop().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`[db] stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  });
}
