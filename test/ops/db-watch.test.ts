import t from 'tap';
import { describeStalls, runningTestFiles, watchDatabase } from '../../scripts/lib/db-watch.js';
import { repoRoot } from '../../scripts/lib/paths.js';
import { testDbUri } from '../helpers/db.js';
import { TcpProxy, uriThroughProxy } from '../helpers/tcp-proxy.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a database that holds writes is reported as a stall, with what ran meanwhile', async (t) => {
  const real = new URL(process.env.MONGODB_URI!);
  const proxy = new TcpProxy(real.hostname, Number(real.port || 27017));
  await proxy.start();
  t.teardown(() => proxy.stop());
  const watch = await watchDatabase(uriThroughProxy(testDbUri('db-watch'), proxy.port), {
    intervalMs: 100,
    slowMs: 500,
    sample: () => ['file-a.test.ts'],
  });

  await pause(400);
  proxy.pause();
  await pause(1_500);
  proxy.resume();
  await pause(400);
  // And one still held when the watch ends.
  proxy.pause();
  await pause(800);
  const stalls = await watch.stop();
  proxy.resume();
  await pause(300); // the watch's connection, let go unclosed, closes now

  t.equal(stalls.length, 2, 'one stall answered late, one never answered');
  const [late, unanswered] = stalls;
  t.ok(late!.ms >= 1_300 && late!.ms < 3_000, `the held write took ${late!.ms} ms`);
  t.same([late!.unanswered, late!.during], [false, ['file-a.test.ts']]);
  t.ok(unanswered!.unanswered && unanswered!.ms >= 500, `then one was still held after ${unanswered!.ms} ms`);
  const lines = describeStalls(stalls);
  t.match(lines[0], /^a write to the test database took 1\.\d s \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\); running meanwhile: file-a\.test\.ts$/);
  t.match(lines[1], /still unanswered when the tests ended/);
});

t.test('a database that answers in time is no stall', async (t) => {
  const watch = await watchDatabase(testDbUri('db-watch'), { intervalMs: 50, slowMs: 1_000 });
  await pause(500);
  t.same(await watch.stop(), []);
});

t.test('running test files are found in the processes of this machine', async (t) => {
  // tap runs this file as `node … <repo>/test/ops/db-watch.test.ts`.
  t.ok(runningTestFiles(repoRoot).includes('test/ops/db-watch.test.ts'), runningTestFiles(repoRoot).join(', '));
});
