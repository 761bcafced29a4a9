// The change-feed section of docs/benchmarks.md (bench/scenarios/change-feed.ts).
import type { ChangeFeedResult, Spread } from '../scenarios/change-feed.js';
import { fmtInt, fmtMs, table } from './stats.js';

const signedMs = (v: number) => (v < 0 ? `−${fmtMs(-v)}` : fmtMs(v));

export function changeFeedSection(f: ChangeFeedResult): string[] {
  const o = f.options;
  const c = f.checks;
  const row = (path: string, s: Spread, missing: number) => [path, `${fmtInt(s.n)}${missing ? ` (**${missing} missing**)` : ''}`, fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.p99), fmtMs(s.max), fmtMs(s.mean)];
  const ok = (v: boolean) => (v ? 'yes' : '**NO**');
  return [
    '## 9. Change feed: change → subscriber delay and throughput, next to the sync path',
    '',
    'One server stack on 127.0.0.1 (production defaults, cron off, ' +
      `SYNC_MIN_INTERVAL_MS=${fmtInt(f.minIntervalMs)} and DELIVERY_BATCH_SIZE=${f.batchSize} by default; only SUBSCRIPTIONS_ALLOW_LOOPBACK=true so that a subscriber on loopback is accepted). ` +
      'In the bench process, the two readers an integrator would run: a webhook subscriber that verifies every delivery with the `standardwebhooks` library ' +
      '(subscribed through `POST /admin/subscriptions` before any calendar, deduplicating on `webhook-id`), and a pull reader long-polling ' +
      `\`GET /admin/changes?wait=${o.waitSec}&limit=${o.pullLimit}\` from the start of the feed. Calendars registered through the admin API (watch + full sync): ` +
      `${fmtMs(f.registerMs)} for all of them. Server, emulator and both readers share this process and its 2 cores.`,
    '',
    `**Delay.** A calendar of ${fmtInt(o.initialEvents)} events, a quiet pause, then ${fmtInt(o.changes)} changes ${fmtMs(o.spacingMs)} apart (insert, patch, delete in turn; ` +
      'each event changed at most once), each written in the emulator, which queues a real ping. Each change is timed from just before the write until: the mirror ' +
      'shows it (a query after every page the engine stores and every 100 ms, as in scenario 2); the pull reader has received it; the subscriber has received and verified it.',
    '',
    table(
      ['write → …', 'changes', 'p50', 'p95', 'p99', 'max', 'mean'],
      [
        row('mirror (the sync path)', f.delay.mirror, f.delay.missing.mirror),
        row(`pull reader (\`GET /admin/changes?wait=${o.waitSec}\`)`, f.delay.pull, f.delay.missing.pull),
        row('webhook subscriber (verified delivery)', f.delay.push, f.delay.missing.push),
      ],
    ),
    '',
    `- The subscriber got each change ${signedMs(f.delay.pushAfterMirror.p50)} after the mirror showed it at p50 (p95 ${signedMs(f.delay.pushAfterMirror.p95)}, max ` +
      `${signedMs(f.delay.pushAfterMirror.max)}; negative: before). The change log is an outbox written just before each page's mirror write, and an append wakes ` +
      'the long polls and the delivery worker of the same process at once, so the feed costs a delivery round trip over the sync path, not a poll interval. ' +
      'Per-operation figures (insert, patch, delete) are in the JSON.',
    '',
    `**Throughput.** Events inserted at once in the emulator (one ping per calendar): ${fmtInt(o.burstEvents)} into one calendar, then ${fmtInt(o.burstEvents)} spread over ` +
      `${fmtInt(o.burstCalendars)} calendars. Each time runs from just before the writes until the mirror holds every event (a count after every stored page and every ` +
      '100 ms), the pull reader has every `created` change, the subscriber has every one; the rates are the events divided by those times.',
    '',
    table(
      ['burst', 'sync passes', 'longest pass', 'longest ping → pass end', 'mirror has all', 'events/s mirrored', 'pull reader has all', 'changes/s read', 'subscriber has all', 'changes/s delivered', 'deliveries (batches)', 'first delivery'],
      f.bursts.map((b) => [
        `${fmtInt(b.events)} events, ${b.calendars} calendar${b.calendars > 1 ? 's' : ''}`,
        fmtInt(b.syncPasses),
        fmtMs(b.longestPassMs),
        fmtMs(b.longestFreshnessMs),
        fmtMs(b.mirroredMs),
        fmtInt(b.mirroredPerSec),
        fmtMs(b.pulledMs),
        fmtInt(b.pulledPerSec),
        fmtMs(b.deliveredMs),
        fmtInt(b.deliveredPerSec),
        fmtInt(b.deliveries),
        fmtMs(b.firstDeliveredMs),
      ]),
    ),
    '',
    ...f.bursts.map(
      (b) =>
        `- ${fmtInt(b.events)} events over ${b.calendars} calendar${b.calendars > 1 ? 's' : ''}: the subscriber had every change ${signedMs(b.deliveredMs - b.mirroredMs)} after the mirror held every event (negative: before), ` +
        `the pull reader ${signedMs(b.pulledMs - b.mirroredMs)} after; its ${fmtInt(b.deliveries)} deliveries came ${b.deliveries > 1 ? fmtMs((b.deliveredMs - b.firstDeliveredMs) / (b.deliveries - 1)) : 'n/a'} apart on average.`,
    ),
    '- Longest pass and longest ping → pass end come from `sync_runs` (`durationMs`, `freshnessMs`): the second includes waiting for a sync slot (SYNC_CONCURRENCY) and pacing.',
    `- A subscription has one batch in flight at a time (that is how it gets its changes in order), each of up to ${f.batchSize} changes of one calendar, so a burst ` +
      'over several calendars takes at least one delivery per calendar. The pull reader takes up to ' +
      `${fmtInt(o.pullLimit)} changes a read across calendars.`,
    `- Checks (the scenario fails on any): forged requests refused by the subscriber before the run ${c.probesRefused}; deliveries that failed verification ${fmtInt(c.verificationFailures)}; ` +
      `changes received twice ${fmtInt(c.duplicateChanges)}; out of order within their calendar ${fmtInt(c.outOfOrder)}; the subscriber's sequence equals the pull reader's ` +
      `(${fmtInt(f.totals.changes)} changes, ${fmtInt(f.totals.deliveries)} deliveries, ${fmtInt(f.totals.pullReads)} reads): ${ok(c.pushEqualsPull)}; ` +
      `replaying it gives Google's events and etags for every calendar: ${ok(c.replayMatchesGoogle)}; subscription state at the end: ${c.subscriptionState}; ` +
      `retried deliveries (same \`webhook-id\` again): ${fmtInt(c.redeliveries)}.`,
    '',
  ];
}
