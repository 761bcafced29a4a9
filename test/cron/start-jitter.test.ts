import t from 'tap';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { startCron } from '../../src/cron/scheduler.js';

function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

t.test('each run starts after its random delay, and the logged time is the run’s own', async (t) => {
  const { log, lines } = recordingLogger();
  const startedAt: number[] = [];
  const cron = startCron([{ name: 'tick', schedule: '* * * * * *', run: async () => void startedAt.push(Date.now()) }], log, { startJitterMs: 800, random: () => 0.5 });
  t.teardown(() => cron.stop());
  const deadline = Date.now() + 5_000;
  while (startedAt.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await cron.stop();
  t.ok(startedAt.length >= 2, 'the job ran on its schedule');
  // node-cron fires at the start of each second (a few ms late at most); the run waited 400 ms more.
  for (const at of startedAt) t.ok(at % 1000 >= 400, `started ${at % 1000} ms into its second`);
  const finished = lines.filter((l) => l.msg === 'cron job finished');
  t.ok(finished.length >= 2, 'each run logged');
  for (const l of finished) {
    t.equal(l.delayMs, 400, 'its start delay');
    t.ok(Number(l.ms) < 400, 'and its own time without the delay');
  }
});

t.test('stopping drops a run still waiting out its delay', async (t) => {
  const { log, lines } = recordingLogger();
  let runs = 0;
  const cron = startCron([{ name: 'tick', schedule: '* * * * * *', run: async () => void runs++ }], log, { startJitterMs: 10_000, random: () => 0.9 });
  await new Promise((r) => setTimeout(r, 1_500));
  const stopped = Date.now();
  await cron.stop();
  t.ok(Date.now() - stopped < 1_000, 'stop does not wait for the delay');
  t.equal(runs, 0, 'the waiting run never started');
  t.equal(lines.filter((l) => l.level === 50).length, 0, 'and nothing was logged as failed');
});
