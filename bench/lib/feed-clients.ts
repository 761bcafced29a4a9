// The two readers of the change feed a user would run, for the change-feed bench: a webhook
// subscriber that verifies every delivery with the `standardwebhooks` library, and a pull reader
// long-polling `GET /admin/changes`. Both note when each change reached them (performance.now()).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { FeedChange } from '../../src/changes/change-feed.js';

export interface Delivery {
  webhookId: string;
  at: number;
  calendarId: string;
  changes: FeedChange[];
}

export interface FeedSubscriber {
  url: string;
  /** Set once the subscription is created (the secret is shown once). */
  secret: string;
  /** Verified deliveries, the first arrival of each `webhook-id`, in arrival order. */
  deliveries: Delivery[];
  /** Verified requests whose `webhook-id` had already been accepted (a retried batch). */
  redeliveries: number;
  /** Requests refused by verification (forged, tampered, stale), with the library's reason. */
  rejected: string[];
  onDelivery: ((d: Delivery) => void) | null;
  close(): Promise<void>;
}

export async function startFeedSubscriber(): Promise<FeedSubscriber> {
  const sub: FeedSubscriber = { url: '', secret: '', deliveries: [], redeliveries: 0, rejected: [], onDelivery: null, close: async () => undefined };
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let payload: { type: string; data: { calendarId: string; changes: FeedChange[] } };
      try {
        if (!sub.secret) throw new Error('no secret yet');
        payload = new Webhook(sub.secret).verify(body, req.headers as Record<string, string>) as typeof payload;
      } catch (err) {
        sub.rejected.push((err as Error).message);
        return void res.writeHead(400).end();
      }
      const at = performance.now();
      const webhookId = String(req.headers['webhook-id']);
      if (seen.has(webhookId)) {
        sub.redeliveries++;
      } else {
        seen.add(webhookId);
        const d: Delivery = { webhookId, at, calendarId: payload.data.calendarId, changes: payload.data.changes };
        sub.deliveries.push(d);
        sub.onDelivery?.(d);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/calsync`;
  sub.close = () => new Promise((resolve) => server.close(() => resolve()));
  return sub;
}

/**
 * Sends the subscriber two requests it must refuse: one signed with another secret, one correctly
 * signed whose body was altered afterwards. Returns how many it refused (2 when verification works),
 * and leaves its `rejected` list as it found it.
 */
export async function probeVerification(sub: FeedSubscriber): Promise<number> {
  const before = sub.rejected.length;
  const body = JSON.stringify({ type: 'calendar.changes', data: { calendarId: 'probe', changes: [] } });
  const now = new Date();
  const signed = (secret: string, id: string) => ({
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, now, body),
  });
  const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
  await fetch(sub.url, { method: 'POST', headers: signed(otherSecret, 'msg_probe_forged'), body });
  await fetch(sub.url, { method: 'POST', headers: signed(sub.secret, 'msg_probe_tampered'), body: body.replace('probe', 'prob3') });
  const refused = sub.rejected.length - before;
  sub.rejected.splice(before);
  return refused;
}

export interface PullReader {
  /** Every change read, in feed order, with when its page arrived. */
  changes: Array<{ change: FeedChange; at: number }>;
  reads: number;
  onChanges: ((changes: FeedChange[], at: number) => void) | null;
  /** Stops the long poll; rejects if a read failed. */
  stop(): Promise<void>;
}

/** Long-polls the feed from its start (`after` omitted), as an integrator's loop would. */
export function startPullReader(baseUrl: string, adminToken: string, opts: { limit: number; waitSec: number }): PullReader {
  const stopped = new AbortController();
  const reader: PullReader = { changes: [], reads: 0, onChanges: null, stop: async () => undefined };
  const loop = (async () => {
    let after: string | undefined;
    while (!stopped.signal.aborted) {
      const q = new URLSearchParams({ limit: String(opts.limit), wait: String(opts.waitSec) });
      if (after) q.set('after', after);
      let res: Response;
      try {
        res = await fetch(`${baseUrl}/admin/changes?${q}`, { headers: { authorization: `Bearer ${adminToken}` }, signal: stopped.signal });
      } catch (err) {
        if (stopped.signal.aborted) return;
        throw err;
      }
      if (!res.ok) throw new Error(`GET /admin/changes → ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { changes: FeedChange[]; nextCursor: string };
      const at = performance.now();
      reader.reads++;
      for (const change of page.changes) reader.changes.push({ change, at });
      if (page.changes.length > 0) reader.onChanges?.(page.changes, at);
      after = page.nextCursor;
    }
  })();
  // Keeps a failed read from being an unhandled rejection before stop() reports it.
  loop.catch(() => undefined);
  reader.stop = async () => {
    stopped.abort();
    await loop;
  };
  return reader;
}
