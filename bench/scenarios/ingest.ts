// Scenario "ingest": ping ingestion side by side against one database: a bare Fastify route, a route
// doing the database work a verified ping does (channel read, message-number write, the durable
// sync request: a calendar read, plus a calendar write unless an equal request is already pending),
// and the real webhook; with rising message numbers and with a repeated one (counted once, but still
// a change ping that requests a sync: see PingReceiver). The sync engine keeps running in the real
// server throughout.
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { WEBHOOK_PATH } from '../../src/channels/channel-token.js';
import { connectDatabase } from '../../src/db/connect.js';
import { startEmulator, type ChannelInfo } from '../../src/emulator/index.js';
import { registerModels } from '../../src/models/index.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { parsePingHeaders } from '../../src/webhook/ping.js';
import { PingVerifier } from '../../src/webhook/verify-ping.js';
import { freePort } from '../../scripts/lib/child-server.js';
import { passRecords, startServerStack, waitFor } from '../lib/setup.js';
import { round } from '../lib/stats.js';

export interface IngestOptions {
  /** Seconds of one load run. */
  durationSec: number;
  /** Load runs per target and message-number mode (route and webhook alternate). */
  runs: number;
  connections: number;
}

export interface IngestRow {
  name: string;
  target: 'bare' | 'db-route' | 'webhook';
  messageNumbers: 'rising' | 'repeated' | 'n/a';
  reqPerSec: number;
  requests: number;
  /** How long the run lasted, as autocannon measured it. */
  durationSec: number;
  non2xx: number;
  errors: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Sync passes of the pinged calendar that finished during the run (webhook and db-route). */
  syncsDuringRun: number | null;
  eventsListCalls: number;
}

/** One target and mode over all its runs: requests ÷ seconds, the median run's p50, the worst run's p99. */
export interface IngestSummary {
  target: IngestRow['target'];
  messageNumbers: IngestRow['messageNumbers'];
  runs: number;
  reqPerSec: number;
  /** Slowest and fastest run, req/s. */
  runRange: [number, number];
  requests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  syncsDuringRun: number | null;
  eventsListCalls: number;
}

export interface IngestResult {
  options: IngestOptions;
  env: Record<string, string>;
  /** Every load run, in the order run. */
  rows: IngestRow[];
  summary: IngestSummary[];
  /** Webhook requests ÷ the db route's over all their runs (same total time), per message-number mode. */
  ratio: { rising: number; repeated: number };
}

// The per-source limit would turn a load generator on loopback away; it is not what is measured.
const INGEST_ENV = { WEBHOOK_RATE_LIMIT_PER_SOURCE: '1000000', WEBHOOK_RATE_LIMIT_GLOBAL: '10000000' };

export async function runIngest(dbBaseUri: string, o: IngestOptions, log: (m: string) => void): Promise<IngestResult> {
  const emu = await startEmulator();
  const stack = await startServerStack({ dbBaseUri, emu, name: 'ingest', env: INGEST_ENV });
  const conn = await connectDatabase(stack.db.uri);
  const apps: FastifyInstance[] = [];
  try {
    const gcals = ['ingest-webhook@group.calendar.google.com', 'ingest-route@group.calendar.google.com'];
    const ids: string[] = [];
    for (const g of gcals) {
      emu.createCalendar(g);
      ids.push(await stack.register(g));
    }
    const { Calendar } = stack.db.models;
    await waitFor(async () => (await Calendar.countDocuments({ lastSyncedAt: null })) === 0, 60_000);
    const channelOf = (g: string): ChannelInfo => {
      const c = emu.channels().find((ch) => ch.calendarId === g && !ch.stopped);
      if (!c?.token) throw new Error(`no open channel for ${g}`);
      return c;
    };
    const [webhookChannel, routeChannel] = gcals.map(channelOf) as [ChannelInfo, ChannelInfo];

    // (a) bare route; (b) the verified ping's database work, on its own connection, its own channel
    // and calendar: the webhook's own verifier and sync-state repository, so the route does exactly
    // the reads and writes a ping does (whatever they become), without the HTTP layer around them.
    const bare = Fastify();
    bare.post('/ping', async (_req, reply) => reply.code(200).send({ result: 'ok' }));
    const verifier = new PingVerifier(conn);
    const syncState = new SyncStateRepository(registerModels(conn).Calendar);
    const dbRoute = Fastify();
    dbRoute.post('/ping', async (req, reply) => {
      const parsed = parsePingHeaders(req.headers);
      if (!parsed.ok) return reply.code(400).send();
      const verdict = await verifier.verify(parsed.ping);
      if (!verdict.ok) return reply.code(403).send();
      const counted = await verifier.recordMessageNumber(parsed.ping, verdict.channel);
      await syncState.request(verdict.channel.calendarId, { priority: PRIORITY.ping }, new Date());
      return reply.code(200).send({ result: counted ? 'sync_requested' : 'stale' });
    });
    const urls: Record<'bare' | 'db-route', string> = { bare: '', 'db-route': '' };
    for (const [name, app] of [['bare', bare], ['db-route', dbRoute]] as const) {
      const port = await freePort();
      await app.listen({ port, host: '127.0.0.1' });
      apps.push(app);
      urls[name] = `http://127.0.0.1:${port}/ping`;
    }

    let next = 1_000_000;
    const rows: IngestRow[] = [];
    const measure = async (name: string, target: IngestRow['target'], mode: IngestRow['messageNumbers'], channel: ChannelInfo | null, calendarId: string | null) => {
      const url = target === 'webhook' ? `${stack.baseUrl}${WEBHOOK_PATH}` : urls[target];
      const headers: Record<string, string> = channel
        ? {
            'x-goog-channel-id': channel.id,
            'x-goog-channel-token': channel.token!,
            'x-goog-resource-id': channel.resourceId,
            'x-goog-resource-state': 'exists',
            'x-goog-message-number': '1',
          }
        : {};
      const since = new Date();
      const callsBefore = emu.stats()['events.list'] ?? 0;
      const result = await autocannon({
        url,
        method: 'POST',
        connections: o.connections,
        duration: o.durationSec,
        headers,
        requests: [
          {
            // Each request its own, higher message number: every ping is new and asks for a sync.
            setupRequest: (req) => (mode === 'rising' ? { ...req, headers: { ...req.headers, 'x-goog-message-number': String(next++) } } : req),
          },
        ],
      });
      const syncsDuringRun = calendarId ? (await passRecords(stack, calendarId, since, 0)).recorded : null;
      const row: IngestRow = {
        name,
        target,
        messageNumbers: mode,
        reqPerSec: round(result.requests.average, 1),
        requests: result.requests.total,
        durationSec: result.duration,
        non2xx: result.non2xx,
        errors: result.errors,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        syncsDuringRun,
        eventsListCalls: (emu.stats()['events.list'] ?? 0) - callsBefore,
      };
      rows.push(row);
      log(`ingest ${name}: ${row.reqPerSec} req/s (${row.requests} requests, ${row.non2xx} non-2xx, ${row.errors} errors), syncs during run: ${row.syncsDuringRun ?? 'n/a'}`);
      return row;
    };
    const bareRow = await measure('bare Fastify route', 'bare', 'n/a', null, null);
    // Route and webhook alternate in short runs (route, webhook, webhook, route, …): SecantusDB slows
    // as writes pile up and stalls now and then, so one long run of each would mostly measure when
    // it ran.
    const summary: IngestSummary[] = [summarize([bareRow])];
    const ratio = { rising: 0, repeated: 0 };
    for (const mode of ['rising', 'repeated'] as const) {
      const label = mode === 'rising' ? 'rising numbers' : 'repeated number';
      const route = (n: number) => measure(`db route, ${label} (${n}/${o.runs})`, 'db-route', mode, routeChannel, ids[1]!);
      const hook = (n: number) => measure(`webhook, ${label} (${n}/${o.runs})`, 'webhook', mode, webhookChannel, ids[0]!);
      const runs: IngestRow[] = [];
      for (let i = 1; i <= o.runs; i++) runs.push(...(i % 2 === 1 ? [await route(i), await hook(i)] : [await hook(i), await route(i)]));
      const [r, w] = [summarize(runs.filter((x) => x.target === 'db-route')), summarize(runs.filter((x) => x.target === 'webhook'))];
      summary.push(r, w);
      ratio[mode] = round(w.requests / r.requests, 2);
    }
    for (const r of rows) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    }
    return { options: o, env: INGEST_ENV, rows, summary, ratio };
  } finally {
    for (const app of apps) await app.close();
    await conn.close();
    await stack.close();
    await emu.close();
  }
}

function summarize(runs: IngestRow[]): IngestSummary {
  const first = runs[0]!;
  const seconds = runs.reduce((n, r) => n + r.durationSec, 0);
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const p50s = runs.map((r) => r.latencyP50Ms).sort((a, b) => a - b);
  const syncs = runs.every((r) => r.syncsDuringRun === null) ? null : runs.reduce((n, r) => n + (r.syncsDuringRun ?? 0), 0);
  return {
    target: first.target,
    messageNumbers: first.messageNumbers,
    runs: runs.length,
    reqPerSec: round(requests / seconds, 1),
    runRange: [Math.min(...runs.map((r) => r.reqPerSec)), Math.max(...runs.map((r) => r.reqPerSec))],
    requests,
    latencyP50Ms: p50s[Math.floor((p50s.length - 1) / 2)]!,
    latencyP99Ms: Math.max(...runs.map((r) => r.latencyP99Ms)),
    syncsDuringRun: syncs,
    eventsListCalls: runs.reduce((n, r) => n + r.eventsListCalls, 0),
  };
}
