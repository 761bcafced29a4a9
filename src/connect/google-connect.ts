import { randomBytes } from 'node:crypto';
import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import type { AccountService } from '../accounts/account-service.js';
import type { ConnectSessions } from './connect-session.js';
import type { DiscoveryPolicy } from '../discovery/policy.js';

export const STATE_TTL_MS = 10 * 60_000;

export interface ConnectSettings {
  clientId: string;
  clientSecret: string;
  authUrl: string;
  tokenUrl: string;
  redirectUrl: string;
  scopes: string[];
}

/** Why a callback did not connect an account; each maps to a 4xx page. */
export type ConnectFailure = 'consent_denied' | 'state_invalid' | 'code_rejected' | 'no_refresh_token' | 'no_identity' | 'google_error';

export class ConnectError extends Error {
  constructor(
    readonly failure: ConnectFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

export interface Connected {
  accountId: string;
  email: string | null;
  created: boolean;
  restored: boolean;
}

/** The id_token comes straight from the token endpoint over TLS, so its claims are read, not verified (OpenID Core 3.1.3.7). */
function identityOf(idToken: string | null | undefined): { sub: string; email: string | null } | undefined {
  const payload = idToken?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof claims.sub !== 'string' || claims.sub === '') return undefined;
    return { sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : null };
  } catch {
    return undefined;
  }
}

/**
 * The OAuth 2.0 authorization-code flow with PKCE (S256) and `state`, through google-auth-library.
 * `start` records the session and returns where to send the browser plus the nonce its cookie must
 * carry back; `finish` consumes the session once, exchanges the code with the verifier and creates
 * or restores the account of that Google user. Nothing is written unless every check passes.
 */
export class GoogleConnect {
  constructor(
    private readonly settings: ConnectSettings,
    private readonly sessions: ConnectSessions,
    private readonly accounts: AccountService,
    /** Runs after an account is connected (calendar discovery); failures are the caller's to log. */
    private readonly onConnected: (c: Connected) => Promise<void> = async () => undefined,
  ) {}

  private client(): OAuth2Client {
    const s = this.settings;
    return new OAuth2Client({
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      redirectUri: s.redirectUrl,
      endpoints: { oauth2AuthBaseUrl: s.authUrl, oauth2TokenUrl: s.tokenUrl },
    });
  }

  /** `discovery`: the policy the new (or reconnected) account gets; none keeps the default / the current one. */
  async start(discovery?: DiscoveryPolicy): Promise<{ consentUrl: string; nonce: string }> {
    const client = this.client();
    const state = randomBytes(32).toString('base64url');
    const nonce = randomBytes(32).toString('base64url');
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    await this.sessions.save({ state, nonce, codeVerifier, ttlMs: STATE_TTL_MS, discovery });
    const consentUrl = client.generateAuthUrl({
      access_type: 'offline',
      // Google returns a refresh token only on consent; asking every time means a reconnect gets one.
      prompt: 'consent',
      scope: this.settings.scopes,
      state,
      code_challenge: codeChallenge,
      code_challenge_method: CodeChallengeMethod.S256,
    });
    return { consentUrl, nonce };
  }

  async finish(q: { state?: string; code?: string; error?: string; nonce?: string }): Promise<Connected> {
    const session = await this.sessions.consume(q.state ?? '', q.nonce);
    if (session === undefined) throw new ConnectError('state_invalid', 'This connect link is invalid, expired or already used. Start again.');
    if (q.error !== undefined) throw new ConnectError('consent_denied', 'Access was not granted, so no account was connected.');
    if (!q.code) throw new ConnectError('code_rejected', 'Google sent no authorization code.');
    let tokens;
    try {
      ({ tokens } = await this.client().getToken({ code: q.code, codeVerifier: session.codeVerifier }));
    } catch (err) {
      const data = (err as { response?: { data?: { error?: unknown } } }).response?.data;
      if (data?.error === 'invalid_grant') throw new ConnectError('code_rejected', 'Google refused the authorization code. Start again.');
      throw new ConnectError('google_error', 'Google could not be reached to finish connecting. Try again later.');
    }
    if (!tokens.refresh_token) throw new ConnectError('no_refresh_token', 'Google granted no offline access (no refresh token). Start again.');
    const who = identityOf(tokens.id_token);
    if (!who) throw new ConnectError('no_identity', 'Google did not say which user consented; the scopes must include openid.');
    const result = await this.accounts.connectGoogleUser({ ...who, refreshToken: tokens.refresh_token, discovery: session.discovery });
    const connected: Connected = { accountId: result.id, email: who.email, created: result.created, restored: result.restored };
    await this.onConnected(connected);
    return connected;
  }
}
