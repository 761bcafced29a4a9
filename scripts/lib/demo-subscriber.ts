// The demo webhook subscriber `npm run dev` starts: verifies each delivery's Standard Webhooks
// signature with the `standardwebhooks` package and prints each change it receives.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

interface Change {
  type: string;
  googleEventId: string;
  etag: string;
  changed?: Record<string, unknown>;
}

export async function startDemoSubscriber(say: (line: string) => void): Promise<{ url: string; setSecret(s: string): void; close(): Promise<void> }> {
  let verifier: Webhook | null = null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (!verifier) throw new Error('no secret yet');
        const payload = verifier.verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>) as { data: { calendarId: string; changes: Change[] } };
        for (const c of payload.data.changes) {
          const fields = c.changed ? ` (${Object.keys(c.changed).join(', ')})` : '';
          say(`subscriber: ${c.type} ${c.googleEventId}${fields} [signature verified, ${String(req.headers['webhook-id'])}]`);
        }
        res.writeHead(204).end();
      } catch (err) {
        say(`subscriber: refused a delivery: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/calsync-webhook`,
    setSecret: (s) => void (verifier = new Webhook(s)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
