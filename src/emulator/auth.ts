// OAuth accounts and the access tokens the emulator grants for them. Access tokens expire by
// the injectable clock, so tests can make googleapis hit a 401 and refresh, as in production.

import { newAccessToken } from './ids.js';

export const ACCESS_TOKEN_TTL_S = 3599;
export const SCOPE = 'https://www.googleapis.com/auth/calendar';

interface Grant {
  refreshToken: string;
  expiresAt: number;
}

export class Auth {
  private readonly refreshTokens = new Set<string>();
  private readonly accessTokens = new Map<string, Grant>();

  constructor(private readonly now: () => number) {}

  reset(): void {
    this.refreshTokens.clear();
    this.accessTokens.clear();
  }

  addAccount(refreshToken: string): void {
    this.refreshTokens.add(refreshToken);
  }

  /** Revoking kills the refresh token and every access token granted from it. */
  revoke(refreshToken: string): void {
    this.refreshTokens.delete(refreshToken);
    for (const [token, grant] of this.accessTokens) if (grant.refreshToken === refreshToken) this.accessTokens.delete(token);
  }

  grant(refreshToken: string): { access_token: string; expires_in: number; token_type: 'Bearer'; scope: string } | undefined {
    if (!this.refreshTokens.has(refreshToken)) return undefined;
    const now = this.now();
    // Expired grants are swept here so the map stays bounded by live tokens.
    for (const [token, g] of this.accessTokens) if (g.expiresAt <= now) this.accessTokens.delete(token);
    const access = newAccessToken();
    this.accessTokens.set(access, { refreshToken, expiresAt: now + ACCESS_TOKEN_TTL_S * 1000 });
    return { access_token: access, expires_in: ACCESS_TOKEN_TTL_S, token_type: 'Bearer', scope: SCOPE };
  }

  /** The refresh token behind the Authorization header's access token, when that token is
   *  live and this emulator granted it; undefined otherwise (the call is unauthenticated). */
  caller(authorization: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const grant = this.accessTokens.get(m[1]!);
    const live = grant !== undefined && grant.expiresAt > this.now() && this.refreshTokens.has(grant.refreshToken);
    return live ? grant.refreshToken : undefined;
  }
}
