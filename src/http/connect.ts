import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import { secretsEqual } from '../crypto/hash.js';
import { checkLink, MAX_LINK_TTL_S, policyParams, signLink } from '../connect/connect-link.js';
import { InvalidPolicyError, validatePolicy, type DiscoveryPolicy } from '../discovery/policy.js';
import { DiscoveryBody } from './admin/schemas.js';
import { ConnectError, STATE_TTL_MS, type ConnectFailure, type GoogleConnect } from '../connect/google-connect.js';


export interface ConnectRoutesOptions {
  adminToken: string;
  linkKey: Buffer;
  publicBaseUrl: string;
  /** Undefined while no OAuth client is configured: the routes then explain that instead. */
  connect: GoogleConnect | undefined;
  secureCookie: boolean;
  now?: () => number;
}

const COOKIE = 'calsync_connect';
const COOKIE_PATH = '/connect/google';

const STATUS: Record<ConnectFailure, number> = {
  consent_denied: 403,
  state_invalid: 400,
  code_rejected: 400,
  no_refresh_token: 400,
  no_identity: 400,
  google_error: 502,
};

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A small self-contained page; every dynamic value is escaped. */
function page(reply: FastifyReply, status: number, title: string, message: string, outcome: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .header('referrer-policy', 'no-referrer')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        '<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style></head>' +
        `<body><main data-outcome="${escapeHtml(outcome)}"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>`,
    );
}

function cookieValue(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return rest.join('=') || undefined;
  }
  return undefined;
}

/**
 * Connecting Google accounts (DESIGN.md §5 Connect): `GET /connect/google` (admin token or a signed
 * link) sends the browser to Google's consent screen with a fresh state + PKCE challenge and binds
 * the attempt to this browser with a cookie; `GET /connect/google/callback` finishes it. Also
 * `POST /admin/connect-links`, which mints a signed link for the operator's product.
 */
export const connectRoutes: FastifyPluginAsync<ConnectRoutesOptions> = async (app, opts) => {
  const now = opts.now ?? Date.now;
  const isAdmin = (req: FastifyRequest) => {
    const presented = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    return presented !== undefined && secretsEqual(presented, opts.adminToken);
  };

  app.get('/connect/google', {
    schema: {
      querystring: Type.Object(
        {
          expires: Type.Optional(Type.String()),
          sig: Type.Optional(Type.String()),
          // The discovery policy (signed with the link): see src/discovery/policy.ts.
          policy: Type.Optional(Type.String({ maxLength: 16 })),
          calendarIds: Type.Optional(Type.String({ maxLength: 64 * 1024 })),
          onRemoved: Type.Optional(Type.String({ maxLength: 16 })),
        },
        { additionalProperties: false },
      ),
    },
  }, async (req, reply) => {
    const q = req.query as { expires?: string; sig?: string; policy?: string; calendarIds?: string; onRemoved?: string };
    let discovery: DiscoveryPolicy | undefined;
    if (q.policy !== undefined || q.calendarIds !== undefined || q.onRemoved !== undefined) {
      try {
        if (q.policy === undefined) throw new InvalidPolicyError('calendarIds and onRemoved come with a policy');
        discovery = validatePolicy({ policy: q.policy, onRemoved: q.onRemoved, calendarIds: q.calendarIds === undefined ? undefined : q.calendarIds.split(',') });
      } catch (err) {
        if (!(err instanceof InvalidPolicyError)) throw err;
        return page(reply, 400, 'Invalid link', `This connect link's discovery policy is invalid: ${err.message}.`, 'invalid_policy');
      }
    }
    if (!isAdmin(req)) {
      const link = checkLink(opts.linkKey, q.expires, q.sig, now(), discovery);
      if (link === 'expired') return page(reply, 401, 'Link expired', 'This connect link has expired. Ask for a new one.', 'link_expired');
      if (link !== 'valid') return page(reply, 401, 'Not allowed', 'This page needs a valid connect link.', 'unauthorized');
    }
    if (!opts.connect) return page(reply, 503, 'Not configured', 'Connecting Google accounts needs GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET on the server.', 'not_configured');
    const { consentUrl, nonce } = await opts.connect.start(discovery);
    const secure = opts.secureCookie ? '; Secure' : '';
    // SameSite=Lax: the cookie comes back on Google's top-level redirect to the callback, not on cross-site subrequests.
    reply.header('set-cookie', `${COOKIE}=${nonce}; Path=${COOKIE_PATH}; Max-Age=${STATE_TTL_MS / 1000}; HttpOnly; SameSite=Lax${secure}`);
    return reply.redirect(consentUrl, 302);
  });

  app.get('/connect/google/callback', {
    schema: {
      querystring: Type.Object(
        {
          state: Type.Optional(Type.String({ maxLength: 512 })),
          code: Type.Optional(Type.String({ maxLength: 2048 })),
          error: Type.Optional(Type.String({ maxLength: 256 })),
          scope: Type.Optional(Type.String({ maxLength: 4096 })),
        },
        // Google adds parameters of its own (authuser, prompt, hd, iss…).
        { additionalProperties: true },
      ),
    },
  }, async (req, reply) => {
    const q = req.query as { state?: string; code?: string; error?: string };
    // The cookie has done its job whatever the outcome.
    reply.header('set-cookie', `${COOKIE}=; Path=${COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax`);
    if (!opts.connect) return page(reply, 503, 'Not configured', 'Connecting Google accounts is not configured on this server.', 'not_configured');
    try {
      const c = await opts.connect.finish({ ...q, nonce: cookieValue(req) });
      req.log.info({ accountId: c.accountId, created: c.created, restored: c.restored }, 'google account connected');
      const what = c.created ? 'is now connected' : c.restored ? 'is connected again' : 'was already connected; its access was refreshed';
      return page(reply, 200, 'Account connected', `The Google account ${c.email ?? ''} ${what}. Its calendars are discovered and mirrored by its discovery policy.`, 'connected');
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      req.log.info({ failure: err.failure }, 'google connect refused');
      return page(reply, STATUS[err.failure], 'Not connected', err.message, err.failure);
    }
  });

  app.post('/admin/connect-links', {
    schema: {
      body: Type.Optional(
        Type.Object(
          {
            ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_LINK_TTL_S })),
            discovery: Type.Optional(DiscoveryBody),
          },
          { additionalProperties: false },
        ),
      ),
    },
  }, async (req, reply) => {
    if (!isAdmin(req)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'UNAUTHORIZED', message: 'a valid admin bearer token is required' } });
    const body = req.body as { ttlSeconds?: number; discovery?: { policy: string; calendarIds?: string[]; onRemoved?: string } } | undefined;
    const ttl = body?.ttlSeconds ?? 3600;
    let discovery: DiscoveryPolicy | undefined;
    try {
      discovery = body?.discovery ? validatePolicy(body.discovery) : undefined;
    } catch (err) {
      if (!(err instanceof InvalidPolicyError)) throw err;
      return reply.code(400).send({ error: { code: 'BAD_REQUEST', message: err.message } });
    }
    const { expires, sig } = signLink(opts.linkKey, Math.floor(now() / 1000) + ttl, discovery);
    const url = `${opts.publicBaseUrl}/connect/google?expires=${expires}&sig=${sig}${policyParams(discovery)}`;
    return reply.code(201).send({ url, expiresAt: new Date(expires * 1000).toISOString(), ...(discovery ? { discovery } : {}) });
  });
};
