// Shared by the fleet tests (test/helpers/fleet.ts) and the fleet benchmarks (bench/scenarios/fleet*.ts).
import http from 'node:http';
import { freePort } from './child-server.js';

/**
 * A load balancer in front of the replicas, as in production: each request goes to the next
 * backend in turn, and to the one after it when a backend does not answer (a replica that was
 * stopped), so Google's pings are spread over whichever replicas are up.
 */
export class RoundRobin {
  private next = 0;
  readonly server: http.Server;
  backends: string[] = [];
  /** Requests answered by each backend, by its URL. */
  readonly served = new Map<string, number>();

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.forward(req, Buffer.concat(chunks), res, 0));
    });
  }

  async listen(): Promise<string> {
    const port = await freePort();
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tried: number): Promise<void> {
    if (tried >= this.backends.length) {
      res.writeHead(502).end();
      return;
    }
    const backend = this.backends[this.next++ % this.backends.length]!;
    const target = new URL(req.url ?? '/', backend);
    const out = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (upstream) => {
      this.served.set(backend, (this.served.get(backend) ?? 0) + 1);
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    out.on('error', () => void this.forward(req, body, res, tried + 1));
    out.end(body);
  }
}
