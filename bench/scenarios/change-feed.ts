// Scenario "change-feed": how fast a change in Google reaches the users of the change feed, next to
// the sync path that feeds it. One server stack on 127.0.0.1 (production defaults, cron off; only
// SUBSCRIPTIONS_ALLOW_LOOPBACK=true, so a subscriber on loopback is accepted), and the two readers a
// user would run, in this process: a webhook subscriber verifying every delivery with the
// `standardwebhooks` library (subscribed through `POST /admin/subscriptions`), and a pull reader
// long-polling `GET /admin/changes?wait=…` from the start of the feed.
//   - Delay: N spaced changes (insert, patch, delete in turn) written in the emulator, each queuing a
//     real ping. Per change: write → the mirror shows it (queried after every stored page and every
//     100 ms, as scenario 2 does), write → the pull reader has it, write → the subscriber has it.
//   - Throughput: bursts of events inserted at once (one ping per calendar), into one calendar and
//     spread over several: the time until the mirror, the pull reader and the subscriber have all.
// The scenario fails if a delivery fails verification, a change arrives twice or out of order, the
// subscriber's feed differs from the pull reader's, or replaying it does not give Google's state.
import { Types } from 'mongoose';
import type { FeedChange } from '../../src/changes/change-feed.js';
import { decodeCursor } from '../../src/changes/cursor.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { probeVerification, startFeedSubscriber, startPullReader, type Delivery, type FeedSubscriber, type PullReader } from '../lib/feed-clients.js';
import { ADMIN_TOKEN, defaultMinIntervalMs, eventBody, seedEvents, sleepMs, startServerStack, waitFor, type ServerStack } from '../lib/setup.js';
import { percentile } from '../lib/stats.js';
import { passCount } from './latency.js';

export interface ChangeFeedOptions {
  /** The delay stream: `changes` writes `spacingMs` apart on a calendar of `initialEvents` events. */
  changes: number;
  spacingMs: number;
  initialEvents: number;
  /** Throughput: `burstEvents` inserted at once into one calendar, then the same number spread over `burstCalendars` calendars. */
  burstEvents: number;
  burstCalendars: number;
  /** The pull reader's `wait` (seconds) and page size. */
  waitSec: number;
  pullLimit: number;
}

export interface Spread {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

type Op = 'insert' | 'patch' | 'delete';
type Side = 'mirror' | 'pull' | 'push';

export interface ChangeFeedBurst {
  calendars: number;
  events: number;
  syncPasses: number;
  /** The burst's sync passes (sync_runs): the longest pass, and the longest from ping to the end of its pass (queueing included). */
  longestPassMs: number;
  longestFreshnessMs: number;
  /** From just before the writes until the mirror / the pull reader / the subscriber had every change. */
  mirroredMs: number;
  pulledMs: number;
  deliveredMs: number;
  firstDeliveredMs: number;
  /** Changes (events) per second over those times. */
  mirroredPerSec: number;
  pulledPerSec: number;
  deliveredPerSec: number;
  /** Webhook requests (batches) that carried the burst, and its pull reads. */
  deliveries: number;
}

export interface ChangeFeedResult {
  options: ChangeFeedOptions;
  minIntervalMs: number;
  batchSize: number;
  registerMs: number;
  delay: Record<Side, Spread> & { byOp: Record<Op, Record<Side, Spread>>; pushAfterMirror: Spread; missing: Record<Side, number> };
  bursts: ChangeFeedBurst[];
  totals: { changes: number; deliveries: number; pullReads: number; subscriptionDelivered: number };
  checks: {
    /** Requests the subscriber must refuse (a forged signature, a tampered body), sent before the run: refused / sent. */
    probesRefused: string;
    verificationFailures: number;
    /** Verified requests repeating an accepted `webhook-id` (retries; at-least-once allows them). */
    redeliveries: number;
    duplicateChanges: number;
    outOfOrder: number;
    pushEqualsPull: boolean;
    replayMatchesGoogle: boolean;
    subscriptionState: string;
  };
}

interface Tracked {
  op: Op | 'burst';
  started: number;
  mirror?: number;
  pull?: number;
  push?: number;
}

const STREAM = 'bench-feed-stream@group.calendar.google.com';
const burstCal = (run: number, i: number) => `bench-feed-burst-${run}-${i}@group.calendar.google.com`;
const TIMEOUT_MS = 120_000;
const OPS: Op[] = ['insert', 'patch', 'delete'];

/** The key a change is expected under: creations and deletions by event, updates by the new etag too. */
const keyOf = (calendarId: string, googleEventId: string, type: FeedChange['type'], etag?: string) =>
  `${calendarId}|${googleEventId}|${type}${type === 'updated' ? `|${etag}` : ''}`;
const changeKey = (c: FeedChange) => keyOf(c.calendarId, c.googleEventId, c.type, c.etag);

export async function runChangeFeed(dbBaseUri: string, opts: ChangeFeedOptions, log: (m: string) => void): Promise<ChangeFeedResult> {
  // Patches and deletes each take a seeded event nobody changed yet.
  if (opts.initialEvents < opts.changes) throw new Error('the stream needs at least as many seeded events as changes');
  const emu = await startEmulator();
  const pace = defaultMinIntervalMs();
  let requestMirrorCheck = () => {};
  const stack = await startServerStack({
    dbBaseUri,
    emu,
    name: 'change_feed',
    env: { SYNC_MIN_INTERVAL_MS: String(pace), SUBSCRIPTIONS_ALLOW_LOOPBACK: 'true' },
    overrides: { engine: { onPageStored: () => requestMirrorCheck() } },
  });
  const subscriber = await startFeedSubscriber();
  let reader: PullReader | null = null;
  try {
    // Subscribed before the first calendar, so the subscription and the pull reader both see the whole feed.
    const { id: subscriptionId, secret } = await stack.admin('POST', '/admin/subscriptions', { url: subscriber.url });
    subscriber.secret = String(secret);
    const probes = await probeVerification(subscriber);
    reader = startPullReader(stack.baseUrl, ADMIN_TOKEN, { limit: opts.pullLimit, waitSec: opts.waitSec });

    const track = new Map<string, Tracked>();
    const arrive = (side: 'pull' | 'push', changes: FeedChange[], at: number) => {
      for (const c of changes) {
        const t = track.get(changeKey(c));
        if (t && t[side] === undefined) t[side] = at;
      }
    };
    subscriber.onDelivery = (d) => arrive('push', d.changes, d.at);
    reader.onChanges = (changes, at) => arrive('pull', changes, at);

    // Calendars: the stream's (seeded) and the bursts' (empty), all registered and synced first.
    const burstPlan = [1, opts.burstCalendars].filter((n, i, all) => all.indexOf(n) === i);
    emu.createCalendar(STREAM);
    const untouched = seedEvents(emu, STREAM, opts.initialEvents).map((e) => e.id!);
    const gcals = [STREAM, ...burstPlan.flatMap((n, run) => Array.from({ length: n }, (_, i) => burstCal(run, i)))];
    const registerStarted = performance.now();
    const calIds = new Map<string, string>();
    for (const g of gcals) {
      if (g !== STREAM) emu.createCalendar(g);
      calIds.set(g, await stack.register(g));
    }
    const { Calendar, Event } = stack.db.models;
    const synced = await waitFor(async () => (await Calendar.countDocuments({ $or: [{ lastSyncedAt: null }, { state: { $ne: 'idle' } }] })) === 0, TIMEOUT_MS);
    if (!synced) throw new Error(`the ${gcals.length} registered calendars did not finish their first sync within ${TIMEOUT_MS / 1000} s`);
    await emu.flushPings();
    await stack.app.services.engine.onIdle();
    const registerMs = performance.now() - registerStarted;
    if (!(await waitFor(async () => delivered(subscriber) >= opts.initialEvents && reader!.changes.length >= opts.initialEvents, TIMEOUT_MS))) {
      throw new Error(`the initial full sync's ${opts.initialEvents} changes did not reach both readers within ${TIMEOUT_MS / 1000} s`);
    }
    await sleepMs(pace + 500); // a quiet calendar: the first change is not paced against the full sync

    // One mirror query at a time; a request during a query runs another right after it.
    let mirrorCheck: () => Promise<void> = async () => undefined;
    let checking = false;
    let again = false;
    requestMirrorCheck = () => {
      if (checking) return void (again = true);
      checking = true;
      void mirrorCheck()
        .catch(() => undefined)
        .finally(() => {
          checking = false;
          if (again) {
            again = false;
            requestMirrorCheck();
          }
        });
    };
    const fallback = setInterval(() => requestMirrorCheck(), 100);

    try {
      // ---- Delay: spaced changes, each event changed at most once (nothing hides an earlier change).
      const streamId = calIds.get(STREAM)!;
      const streamOid = new Types.ObjectId(streamId);
      const inMirror = new Map<string, { tracked: Tracked; id: string; etag: string | null }>();
      mirrorCheck = async () => {
        const open = [...inMirror];
        if (open.length === 0) return;
        const docs = await Event.find({ calendarId: streamOid, googleEventId: { $in: open.map(([, p]) => p.id) } }, { googleEventId: 1, etag: 1 }).lean();
        const now = performance.now();
        const etags = new Map(docs.map((d) => [d.googleEventId, d.etag]));
        for (const [key, p] of open) {
          if (p.etag === null ? !etags.has(p.id) : etags.get(p.id) === p.etag) {
            p.tracked.mirror = now;
            inMirror.delete(key);
          }
        }
      };
      const stream: Tracked[] = [];
      for (let k = 0; k < opts.changes; k++) {
        const op = OPS[k % 3]!;
        const started = performance.now();
        let id: string;
        let etag: string | null;
        let key: string;
        if (op === 'insert') {
          const ev = emu.insertEvent(STREAM, eventBody(100_000 + k));
          [id, etag, key] = [ev.id!, ev.etag!, keyOf(streamId, ev.id!, 'created')];
        } else if (op === 'patch') {
          id = untouched.shift()!;
          etag = emu.patchEvent(STREAM, id, { summary: `change feed ${k}` }).etag!;
          key = keyOf(streamId, id, 'updated', etag);
        } else {
          id = untouched.pop()!;
          emu.deleteEvent(STREAM, id);
          [etag, key] = [null, keyOf(streamId, id, 'deleted')];
        }
        // Registered before anything can arrive: the write only queued the ping.
        const tracked: Tracked = { op, started };
        track.set(key, tracked);
        inMirror.set(key, { tracked, id, etag });
        stream.push(tracked);
        await sleepMs(opts.spacingMs);
      }
      await waitFor(async () => stream.every(complete), TIMEOUT_MS);
      const side = (ts: Tracked[], s: Side) => spread(ts.filter((t) => t[s] !== undefined).map((t) => t[s]! - t.started));
      const sides = (ts: Tracked[]) => ({ mirror: side(ts, 'mirror'), pull: side(ts, 'pull'), push: side(ts, 'push') });
      const both = stream.filter((t) => t.mirror !== undefined && t.push !== undefined);
      const delay: ChangeFeedResult['delay'] = {
        ...sides(stream),
        byOp: { insert: sides(stream.filter((t) => t.op === 'insert')), patch: sides(stream.filter((t) => t.op === 'patch')), delete: sides(stream.filter((t) => t.op === 'delete')) },
        pushAfterMirror: spread(both.map((t) => t.push! - t.mirror!)),
        missing: { mirror: stream.filter((t) => t.mirror === undefined).length, pull: stream.filter((t) => t.pull === undefined).length, push: stream.filter((t) => t.push === undefined).length },
      };
      log(
        `change-feed delay (${opts.changes} changes ${opts.spacingMs} ms apart): p50 / p99 mirror ${ms(delay.mirror.p50)} / ${ms(delay.mirror.p99)}, ` +
          `pull ${ms(delay.pull.p50)} / ${ms(delay.pull.p99)}, webhook ${ms(delay.push.p50)} / ${ms(delay.push.p99)}`,
      );

      // ---- Throughput: bursts inserted at once, one ping per calendar.
      const bursts: ChangeFeedBurst[] = [];
      for (const [run, n] of burstPlan.entries()) {
        await stack.app.services.engine.onIdle();
        const ids = Array.from({ length: n }, (_, i) => calIds.get(burstCal(run, i))!);
        bursts.push(await burst({ emu, stack, subscriber, reader, track, ids, gcals: ids.map((_, i) => burstCal(run, i)), events: opts.burstEvents, setMirrorCheck: (f) => (mirrorCheck = f) }));
        const b = bursts.at(-1)!;
        log(
          `change-feed burst (${b.events} events over ${b.calendars} calendar(s)): mirrored ${Math.round(b.mirroredPerSec)}/s, read ${Math.round(b.pulledPerSec)}/s, ` +
            `delivered ${Math.round(b.deliveredPerSec)}/s in ${b.deliveries} deliveries`,
        );
      }

      // ---- Checks over everything both readers got.
      await emu.flushPings();
      await stack.app.services.engine.onIdle();
      await waitFor(async () => delivered(subscriber) >= reader!.changes.length, 30_000);
      const pulled = reader.changes.map((c) => c.change);
      const pushed = subscriber.deliveries.flatMap((d) => d.changes);
      const subscription = ((await stack.admin('GET', '/admin/subscriptions')).subscriptions as Array<{ id: string; state: string; delivered: number }>).find((s) => s.id === subscriptionId);
      const checks: ChangeFeedResult['checks'] = {
        probesRefused: `${probes}/2`,
        verificationFailures: subscriber.rejected.length,
        redeliveries: subscriber.redeliveries,
        duplicateChanges: duplicates(pushed) + duplicates(pulled),
        outOfOrder: outOfOrder(pushed) + outOfOrder(pulled),
        pushEqualsPull: pushed.length === pulled.length && pushed.every((c, i) => c.cursor === pulled[i]!.cursor),
        replayMatchesGoogle: [...calIds].every(([g, id]) => replayMatches(pushed, id, emu, g)),
        subscriptionState: subscription?.state ?? 'missing',
      };
      const violations = [
        probes !== 2 && `the subscriber refused ${probes} of 2 forged requests`,
        checks.verificationFailures > 0 && `${checks.verificationFailures} deliveries failed verification (${subscriber.rejected.slice(0, 3).join('; ')})`,
        checks.duplicateChanges > 0 && `${checks.duplicateChanges} changes arrived twice`,
        checks.outOfOrder > 0 && `${checks.outOfOrder} changes arrived out of order for their calendar`,
        !checks.pushEqualsPull && `the subscriber got ${pushed.length} changes, the pull reader ${pulled.length}, not the same sequence`,
        !checks.replayMatchesGoogle && "replaying the delivered changes does not give Google's events and etags",
        checks.subscriptionState !== 'active' && `the subscription is ${checks.subscriptionState}`,
        Object.values(delay.missing).some((m) => m > 0) && `stream changes missing after ${TIMEOUT_MS / 1000} s: ${JSON.stringify(delay.missing)}`,
        ...bursts.map((b) => !Number.isFinite(b.deliveredMs + b.pulledMs + b.mirroredMs) && `a burst of ${b.events} events did not reach every reader`),
      ].filter((v): v is string => typeof v === 'string');
      if (violations.length > 0) throw new Error(`change feed checks failed: ${violations.join('; ')}`);
      return {
        options: opts,
        minIntervalMs: pace,
        batchSize: stack.app.services.config.subscriptions.batchSize,
        registerMs,
        delay,
        bursts,
        totals: { changes: pushed.length, deliveries: subscriber.deliveries.length, pullReads: reader.reads, subscriptionDelivered: subscription?.delivered ?? 0 },
        checks,
      };
    } finally {
      clearInterval(fallback);
    }
  } finally {
    requestMirrorCheck = () => {};
    await reader?.stop().catch(() => undefined);
    await stack.close();
    await subscriber.close();
    await emu.close();
  }
}

async function burst(o: {
  emu: Emulator;
  stack: ServerStack;
  subscriber: FeedSubscriber;
  reader: PullReader;
  track: Map<string, Tracked>;
  ids: string[];
  gcals: string[];
  events: number;
  setMirrorCheck: (f: () => Promise<void>) => void;
}): Promise<ChangeFeedBurst> {
  const { Calendar, Event } = o.stack.db.models;
  const oids = o.ids.map((id) => new Types.ObjectId(id));
  const passesBefore = await Promise.all(o.ids.map((id) => passCount(Calendar, id)));
  const deliveriesBefore = o.subscriber.deliveries.length;
  const tracked: Tracked[] = [];
  let mirrored: number | undefined;
  o.setMirrorCheck(async () => {
    if (mirrored !== undefined) return;
    const n = await Event.countDocuments({ calendarId: { $in: oids } });
    if (n >= o.events) mirrored = performance.now();
  });
  const started = performance.now();
  for (const [i, g] of o.gcals.entries()) {
    // The calendar's share, inserted at once: one ping for the whole batch.
    const share = Math.floor(o.events / o.gcals.length) + (i < o.events % o.gcals.length ? 1 : 0);
    const inserted = o.emu.insertEvents(g, Array.from({ length: share }, (_, j) => eventBody(j, `burst event ${j}`)));
    for (const ev of inserted) {
      const t: Tracked = { op: 'burst', started };
      o.track.set(keyOf(o.ids[i]!, ev.id!, 'created'), t);
      tracked.push(t);
    }
  }
  await waitFor(async () => mirrored !== undefined && tracked.every((t) => t.pull !== undefined && t.push !== undefined), TIMEOUT_MS);
  const last = (s: 'pull' | 'push') => (tracked.every((t) => t[s] !== undefined) ? Math.max(...tracked.map((t) => t[s]!)) - started : NaN);
  const mirroredMs = mirrored === undefined ? NaN : mirrored - started;
  const [pulledMs, deliveredMs] = [last('pull'), last('push')];
  const keys = new Set(o.ids);
  const passes = await Promise.all(o.ids.map((id) => passCount(Calendar, id)));
  const runs = await o.stack.app.services.SyncRun.find({ calendarId: { $in: oids }, finishedAt: { $gte: new Date(performance.timeOrigin + started) } }, { durationMs: 1, freshnessMs: 1 }).lean();
  return {
    calendars: o.ids.length,
    events: o.events,
    syncPasses: passes.reduce((a, p, i) => a + p - passesBefore[i]!, 0),
    longestPassMs: Math.max(...runs.map((r) => r.durationMs)),
    longestFreshnessMs: Math.max(...runs.map((r) => r.freshnessMs ?? 0)),
    mirroredMs,
    pulledMs,
    deliveredMs,
    firstDeliveredMs: Math.min(...tracked.map((t) => t.push ?? Infinity)) - started,
    mirroredPerSec: o.events / (mirroredMs / 1000),
    pulledPerSec: o.events / (pulledMs / 1000),
    deliveredPerSec: o.events / (deliveredMs / 1000),
    deliveries: o.subscriber.deliveries.slice(deliveriesBefore).filter((d: Delivery) => keys.has(d.calendarId)).length,
  };
}

const complete = (t: Tracked) => t.mirror !== undefined && t.pull !== undefined && t.push !== undefined;
const delivered = (s: FeedSubscriber) => s.deliveries.reduce((n, d) => n + d.changes.length, 0);
const ms = (v: number) => `${Math.round(v)} ms`;
const seqOf = (c: FeedChange) => decodeCursor(c.cursor).seq;

function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.at(-1) ?? NaN, mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN };
}

/** Changes seen more than once (same calendar, event, etag and type). */
function duplicates(changes: FeedChange[]): number {
  const seen = new Set<string>();
  let dup = 0;
  for (const c of changes) {
    const k = `${c.calendarId}|${c.googleEventId}|${c.etag}|${c.type}`;
    if (seen.has(k)) dup++;
    seen.add(k);
  }
  return dup;
}

/** Changes whose feed position is not above the previous one of the same calendar, in arrival order. */
function outOfOrder(changes: FeedChange[]): number {
  const last = new Map<string, number>();
  let bad = 0;
  for (const c of changes) {
    const seq = seqOf(c);
    if (seq <= (last.get(c.calendarId) ?? 0)) bad++;
    last.set(c.calendarId, seq);
  }
  return bad;
}

/** Whether applying the changes of one calendar in order (created/updated: set etag; deleted: remove) gives Google's live events. */
function replayMatches(changes: FeedChange[], calendarId: string, emu: Emulator, googleCalendarId: string): boolean {
  const replay = new Map<string, string>();
  for (const c of changes) {
    if (c.calendarId !== calendarId) continue;
    if (c.type === 'deleted') replay.delete(c.googleEventId);
    else replay.set(c.googleEventId, c.etag);
  }
  const google = emu.listAllEvents(googleCalendarId, { singleEvents: true });
  return google.length === replay.size && google.every((e) => replay.get(e.id!) === e.etag);
}
