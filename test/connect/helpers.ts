import type { PushHarness } from '../helpers/push-harness.js';

export interface Started {
  /** The emulator's consent URL calsync redirected to. */
  consentUrl: URL;
  /** `calsync_connect=<nonce>`, as the browser would send it back. */
  cookie: string;
}

/** GET /connect/google with the given auth (admin header or signed-link query). */
export async function startConnect(h: PushHarness, opts: { headers?: Record<string, string>; query?: string } = {}): Promise<Started> {
  const res = await h.app.inject({ method: 'GET', url: `/connect/google${opts.query ?? ''}`, headers: opts.headers ?? {} });
  if (res.statusCode !== 302) throw new Error(`connect answered ${res.statusCode}: ${res.body}`);
  const setCookie = String(res.headers['set-cookie']);
  return { consentUrl: new URL(String(res.headers.location)), cookie: setCookie.split(';')[0]! };
}

/** Visits the consent URL (the emulator consents at once) and returns the callback path + query. */
export async function consent(consentUrl: URL | string): Promise<string> {
  const res = await fetch(consentUrl, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`consent answered ${res.status}: ${await res.text()}`);
  const back = new URL(String(res.headers.get('location')));
  return `${back.pathname}${back.search}`;
}

export async function callback(h: PushHarness, path: string, cookie: string | undefined) {
  return h.app.inject({ method: 'GET', url: path, headers: cookie ? { cookie } : {} });
}
