import t from 'tap';
import { pino } from 'pino';
import { ClaimLoop, type ClaimedWork } from '../../src/leases/claim-loop.js';

function loop(claim: (free: number) => AsyncIterable<ClaimedWork>): ClaimLoop {
  return new ClaimLoop({
    concurrency: 2,
    pollMs: 60_000,
    random: () => 0.5,
    now: () => new Date(),
    log: pino({ level: 'silent' }),
    claimFailedMessage: 'claiming failed',
    claim,
  });
}

/** A promise with its resolver, for steps the test lets happen one at a time. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

t.test('close waits for a claim in flight, and for the work it yields, before it resolves', async (t) => {
  // A replica shutting down while its claim (a lease write) is on its way to the database: the claim
  // lands after close began. Its work must run (it sees the aborted signal and lets the lease go)
  // before close resolves; otherwise the server closes the database first and the lease stays held
  // until it runs out.
  const claimWrite = gate();
  const claimStarted = gate();
  const events: string[] = [];
  const l: ClaimLoop = loop(async function* () {
    claimStarted.open();
    await claimWrite.opened;
    events.push('claim landed');
    yield async () => {
      events.push(`work ran (signal aborted: ${String(l.signal.aborted)})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push('lease released');
    };
  });
  l.start();
  await claimStarted.opened;

  const closed = l.close(new Error('closing')).then(() => events.push('close resolved'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(events, [], 'close has not resolved while the claim is in flight');
  claimWrite.open();
  await closed;
  t.same(events, ['claim landed', 'work ran (signal aborted: true)', 'lease released', 'close resolved'], 'the claimed work ran to its end first');
});

t.test('close resolves at once when nothing is claimed or running', async (t) => {
  let looks = 0;
  const l = loop(async function* () {
    looks++;
    yield* [];
  });
  l.start();
  await l.onIdle();
  await l.close();
  t.equal(looks, 1, 'one look, nothing claimed');
  l.pump();
  await l.onIdle();
  t.equal(looks, 1, 'a closed loop claims nothing more');
});

t.test('close waits for work already running, as before', async (t) => {
  const finish = gate();
  const events: string[] = [];
  let yielded = false;
  const l = loop(async function* () {
    if (yielded) return;
    yielded = true;
    yield async () => {
      await finish.opened;
      events.push('work done');
    };
  });
  l.start();
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(l.runningCount, 1, 'the work runs');
  const closed = l.close().then(() => events.push('close resolved'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  finish.open();
  await closed;
  t.same(events, ['work done', 'close resolved']);
});
