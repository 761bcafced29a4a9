// Scenario "ingest": ping ingestion side by side against one database: a bare Fastify route, a route
// doing the database work a verified ping does (channel read, message-number conditional update,
// the durable sync request), and the real webhook; with rising message numbers (each ping asks for
// a sync) and with a repeated one. The sync engine keeps running in the real server throughout.
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { channelModel } from '../../src/channels/channel-model.js';
import { WEBHOOK_PATH } from '../../src/channels/channel-token.js';
import { matchesHash } from '../../src/crypto/hash.js';
import { connectDatabase } from '../../src/db/connect.js';
import { startEmulator, type ChannelInfo } from '../../src/emulator/index.js';
import { registerModels } from '../../src/models/index.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { freePort } from '../../scripts/lib/child-server.js';
import { passRecords, startServerStack, waitFor } from '../lib/setup.js';
import { round } from '../lib/stats.js';

export interface IngestOptions {
  durationSec: number;
  connections: number;
}

export interface IngestRow {
  name: string;
  target: 'bare' | 'db-route' | 'webhook';
  messageNumbers: 'rising' | 'repeated' | 'n/a';
  reqPerSec: number;
  requests: number;
  non2xx: number;
  errors: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Sync passes of the pinged calendar that finished during the run (webhook and db-route). */
  syncsDuringRun: number | null;
  eventsListCalls: number;
}

export interface IngestResult {
  options: IngestOptions;
  env: Record<string, string>;
  rows: IngestRow[];
  /** Webhook req/s ÷ the db route's, per message-number mode. */
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

    // (a) bare route; (b) the verified ping's database work, on its own connection, its own channel and calendar.
    const bare = Fastify();
    bare.post('/ping', async (_req, reply) => reply.code(200).send({ result: 'ok' }));
    const Channel = channelModel(conn);
    const RouteCalendar = registerModels(conn).Calendar;
    const dbRoute = Fastify();
    dbRoute.post('/ping', async (req, reply) => {
      const h = req.headers as Record<string, string>;
      const n = Number(h['x-goog-message-number']);
      const channel = await Channel.findById(h['x-goog-channel-id']).select({ tokenHash: 1, status: 1, resourceId: 1, expiration: 1, calendarId: 1 }).lean();
      if (!channel || !matchesHash(h['x-goog-channel-token'] ?? '', channel.tokenHash)) return reply.code(404).send();
      const res = await Channel.updateOne(
        { _id: channel._id, status: { $ne: 'stopped' }, lastMessageNumber: { $lt: n } },
        { $set: { lastMessageNumber: n, lastPingAt: new Date() } },
      );
      if (res.matchedCount === 0) return reply.code(200).send({ result: 'stale' });
      await RouteCalendar.findOneAndUpdate(
        { _id: channel.calendarId, state: { $ne: 'needs_attention' } },
        { $min: { dueAt: new Date(), priority: PRIORITY.ping }, $inc: { requests: 1 } },
        { projection: { syncNotBefore: 1, syncHeldBy: 1 }, returnDocument: 'after' },
      ).lean();
      return reply.code(200).send({ result: 'sync_requested' });
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
    const routeRising = await measure('db route, rising numbers', 'db-route', 'rising', routeChannel, ids[1]!);
    const hookRising = await measure('webhook, rising numbers', 'webhook', 'rising', webhookChannel, ids[0]!);
    const routeRepeated = await measure('db route, repeated number', 'db-route', 'repeated', routeChannel, ids[1]!);
    const hookRepeated = await measure('webhook, repeated number', 'webhook', 'repeated', webhookChannel, ids[0]!);
    for (const r of [bareRow, routeRising, hookRising, routeRepeated, hookRepeated]) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    }
    return {
      options: o,
      env: INGEST_ENV,
      rows,
      ratio: { rising: round(hookRising.reqPerSec / routeRising.reqPerSec, 2), repeated: round(hookRepeated.reqPerSec / routeRepeated.reqPerSec, 2) },
    };
  } finally {
    for (const app of apps) await app.close();
    await conn.close();
    await stack.close();
    await emu.close();
  }
}
