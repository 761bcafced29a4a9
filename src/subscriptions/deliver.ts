import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { FeedChange } from '../changes/change-feed.js';
import { addressAllowed, pinnedLookup, type AddressPolicy } from './subscriber-address.js';

/**
 * One delivery attempt: a Standard Webhooks request (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`, signed with the `standardwebhooks` package). The same batch keeps the same
 * `webhook-id` on every retry, so a subscriber can drop duplicates. A subscriber can only cost its
 * own delivery slot: the whole attempt (connect, answer, body) has a deadline, the answer's body is
 * read up to a few KB and dropped, and redirects are not followed.
 */

export interface DeliveryRequest {
  url: string;
  secret: string;
  messageId: string;
  calendarId: string;
  changes: FeedChange[];
  now: Date;
  timeoutMs: number;
  policy: AddressPolicy;
}

export type DeliveryResult = { ok: true; status: number } | { ok: false; status: number | null; message: string };

const MAX_ANSWER_BYTES = 16 * 1024;

export function signedRequest(r: Pick<DeliveryRequest, 'secret' | 'messageId' | 'calendarId' | 'changes' | 'now'>): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ type: 'calendar.changes', data: { calendarId: r.calendarId, changes: r.changes } });
  const signature = new Webhook(r.secret).sign(r.messageId, r.now, body);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': r.messageId,
      'webhook-timestamp': String(Math.floor(r.now.getTime() / 1000)),
      'webhook-signature': signature,
    },
  };
}

export function deliver(r: DeliveryRequest): Promise<DeliveryResult> {
  const url = new URL(r.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // Node connects to an IP literal without a lookup: check it here.
  if (isIP(host) !== 0 && !addressAllowed(host, r.policy)) return Promise.resolve({ ok: false, status: null, message: 'subscriber address is not allowed' });
  const { body, headers } = signedRequest(r);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: DeliveryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = mod.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'calsync-webhooks' }, lookup: pinnedLookup(r.policy), agent: false },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const done = () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, message: `subscriber answered ${status}` });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => finish({ ok: false, status: null, message: `no answer within ${r.timeoutMs} ms` }), r.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, status: null, message: err.code === 'ADDRESS_REFUSED' ? 'subscriber address is not allowed' : `request failed (${err.code ?? 'error'})` }),
    );
    req.end(body);
  });
}
