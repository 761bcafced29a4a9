import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';

// scripts/test.ts on a SecantusDB of its own asks for a server per test file (test/helpers/file-db.ts).
t.test('each test file runs on a database server of its own, a child of the file', { skip: process.env.CALSYNC_TEST_DB_PER_FILE !== '1' && 'tests run on a database given in MONGODB_URI' }, async (t) => {
  t.equal(process.env.MONGODB_URI, process.env.CALSYNC_TEST_FILE_DB, 'MONGODB_URI is the file\'s own server');
  const port = new URL(process.env.MONGODB_URI!).port;
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent; the command name (field 2) may hold spaces.
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(`--port ${port} `);
      } catch {
        return false;
      }
    });
  t.equal(children.length, 1, `the server on port ${port} was started by this file's process (${process.pid})`);
});
