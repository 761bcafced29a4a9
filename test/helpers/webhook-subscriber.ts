import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { FeedChange } from '../../src/changes/change-feed.js';

/**
 * A real subscriber: an HTTP server that verifies every delivery with the `standardwebhooks`
 * library (signature and timestamp), deduplicates on `webhook-id` as the spec advises, and keeps
 * the changes it accepted in arrival order. `down` makes it answer 503.
 */
export interface Subscriber {
  url: string;
  secret: string;
  changes: FeedChange[];
  messageIds: string[];
  attempts: number;
  rejected: string[];
  down: boolean;
  close(): Promise<void>;
}

export async function startSubscriber(): Promise<Subscriber> {
  const sub: Subscriber = { url: '', secret: '', changes: [], messageIds: [], attempts: 0, rejected: [], down: false, close: async () => undefined };
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      sub.attempts++;
      if (sub.down) return void res.writeHead(503).end();
      const body = Buffer.concat(chunks).toString('utf8');
      let payload: { type: string; data: { calendarId: string; changes: FeedChange[] } };
      try {
        payload = new Webhook(sub.secret).verify(body, req.headers as Record<string, string>) as typeof payload;
      } catch (err) {
        sub.rejected.push((err as Error).message);
        return void res.writeHead(400).end();
      }
      const id = String(req.headers['webhook-id']);
      if (!seen.has(id)) {
        seen.add(id);
        sub.messageIds.push(id);
        sub.changes.push(...payload.data.changes);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/calsync`;
  sub.close = () => new Promise((resolve) => server.close(() => resolve()));
  return sub;
}
