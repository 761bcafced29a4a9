// Delivery of push notifications ("pings") as real HTTP POSTs with Google's headers. Each ping
// is delivered independently (no per-channel ordering, as on Google); 5xx answers and
// connection failures are retried with exponential backoff. Every delivery is tracked so
// tests can await flush() instead of sleeping, and close() cancels pending retries.

import http from 'node:http';
import https from 'node:https';
import { randomInt } from 'node:crypto';
import type { Channel, Channels } from './channels.js';
import { nextMessageNumber } from './ids.js';
import { rfc1123 } from './time.js';

export type ResourceState = 'sync' | 'exists' | 'not_exists';

export interface PingSettings {
  /** Probability a ping is silently not sent (Google says delivery is not 100% reliable). */
  dropRate: number;
  /** Probability a ping is delivered twice with the same message number. */
  duplicateRate: number;
  retryInitialDelayMs: number;
  /** Total attempts per ping, first one included. */
  maxAttempts: number;
  timeoutMs: number;
}

export const DEFAULT_PING_SETTINGS: PingSettings = {
  dropRate: 0,
  duplicateRate: 0,
  retryInitialDelayMs: 100,
  maxAttempts: 5,
  timeoutMs: 10_000,
};

const SUCCESS = new Set([102, 200, 201, 202, 204]);
const RETRYABLE = new Set([500, 502, 503, 504]);

export interface PingStats {
  attempts: number;
  delivered: number;
  failed: number;
  retried: number;
  dropped: number;
  duplicated: number;
}

const zeroStats = (): PingStats => ({ attempts: 0, delivered: 0, failed: 0, retried: 0, dropped: 0, duplicated: 0 });

interface Timer {
  handle: NodeJS.Timeout;
  resolve: () => void;
}

export class PingDispatcher {
  settings: PingSettings;
  stats: PingStats = zeroStats();
  private readonly inflight = new Set<Promise<void>>();
  private readonly timers = new Set<Timer>();
  private readonly requests = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly channels: Channels,
    defaults: Partial<PingSettings> = {},
  ) {
    this.settings = { ...DEFAULT_PING_SETTINGS, ...defaults };
  }

  reset(defaults: Partial<PingSettings> = {}): void {
    this.settings = { ...DEFAULT_PING_SETTINGS, ...defaults };
    this.stats = zeroStats();
  }

  /** The first ping of a channel. Deferred a tick: it may race the watch response, never precede registration. */
  announce(ch: Channel): void {
    this.track((async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.deliver(ch, 'sync', 1);
    })());
  }

  changed(calendarId: string): void {
    for (const ch of this.channels.liveFor(calendarId)) {
      ch.messageNumber = nextMessageNumber(ch.messageNumber);
      if (this.roll(this.settings.dropRate)) {
        this.stats.dropped++;
        continue;
      }
      const copies = this.roll(this.settings.duplicateRate) ? 2 : 1;
      if (copies === 2) this.stats.duplicated++;
      for (let i = 0; i < copies; i++) this.track(this.deliver(ch, 'exists', ch.messageNumber));
    }
  }

  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t.handle);
      t.resolve();
    }
    this.timers.clear();
    for (const req of this.requests) req.destroy();
    await this.flush();
  }

  private roll(p: number): boolean {
    return p > 0 && randomInt(1_000_000) < p * 1_000_000;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async deliver(ch: Channel, state: ResourceState, number: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Nothing is sent for a channel that was stopped or expired meanwhile, retries included.
      if (this.closed || !this.channels.isLive(ch)) return;
      this.stats.attempts++;
      const status = await this.post(ch, state, number);
      if (SUCCESS.has(status)) {
        this.stats.delivered++;
        return;
      }
      if (!(status === 0 || RETRYABLE.has(status)) || attempt >= this.settings.maxAttempts) {
        this.stats.failed++;
        return;
      }
      this.stats.retried++;
      await this.sleep(this.settings.retryInitialDelayMs * 2 ** (attempt - 1));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer: Timer = {
        handle: setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(timer);
    });
  }

  /** Resolves with the HTTP status, or 0 when the connection failed or timed out. */
  private post(ch: Channel, state: ResourceState, number: number): Promise<number> {
    const headers: Record<string, string> = {
      'X-Goog-Channel-ID': ch.id,
      'X-Goog-Channel-Expiration': rfc1123(ch.expiration),
      'X-Goog-Message-Number': String(number),
      'X-Goog-Resource-ID': ch.resourceId,
      'X-Goog-Resource-State': state,
      'X-Goog-Resource-URI': ch.resourceUri,
      'User-Agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
      'Content-Length': '0',
    };
    if (ch.token !== undefined) headers['X-Goog-Channel-Token'] = ch.token;
    const url = new URL(ch.address);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const done = (status: number) => {
        if (settled) return;
        settled = true;
        this.requests.delete(req);
        resolve(status);
      };
      // agent: false — one connection per ping, nothing kept alive to hold the process open.
      let status = 0;
      const req = mod.request(url, { method: 'POST', headers, agent: false, timeout: this.settings.timeoutMs }, (res) => {
        status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => done(status));
      });
      this.requests.add(req);
      req.on('timeout', () => req.destroy());
      req.on('error', () => done(0));
      req.on('close', () => done(status));
      req.end();
    });
  }
}
