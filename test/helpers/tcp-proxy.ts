import net from 'node:net';

/**
 * A TCP proxy that can be taken down and brought back on the same port: from the app's side that is
 * exactly a database that stops answering and then returns, whatever database sits behind it. With
 * `latencyMs`, every request reaches the database that much later (a distant or overloaded one);
 * `pause()` holds every request until `resume()` (a database that stalls, then answers all at once).
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Requests held while paused, in arrival order. */
  private held: Array<() => void> | null = null;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly opts: { latencyMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      const latency = this.opts.latencyMs ?? 0;
      // Chunks keep their order: each waits the same time from its arrival, and a pause holds them all.
      const send = (write: () => void): void => {
        const later = (): void => void (latency > 0 ? setTimeout(write, latency) : write());
        if (this.held) this.held.push(later);
        else later();
      };
      client.on('data', (chunk: Buffer) => send(() => upstream.destroyed || upstream.write(chunk)));
      client.on('end', () => send(() => upstream.end()));
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Holds every request from now on; the database sees none of them until `resume()`. */
  pause(): void {
    this.held ??= [];
  }

  /** Sends the held requests, in order, and lets new ones through again. */
  resume(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const send of held) send();
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Points a MongoDB URI at the proxy; directConnection stops the driver from bypassing it via replica-set discovery. */
export function uriThroughProxy(uri: string, proxyPort: number): string {
  const u = new URL(uri);
  u.host = `127.0.0.1:${proxyPort}`;
  u.searchParams.set('directConnection', 'true');
  return u.toString();
}
