// Google users, their consent, authorization codes and calendar lists. What the authorization
// endpoint, the authorization-code grant and `calendarList.*` need: a code is bound to its client,
// redirect URI and PKCE challenge and is single use; a refresh token belongs to one user, so the
// same person consenting twice is recognised by the same `sub`.

import { createHash, randomBytes } from 'node:crypto';
import type { Auth } from './auth.js';

export const CODE_TTL_MS = 10 * 60_000;
export const ACCESS_ROLES = ['freeBusyReader', 'reader', 'writer', 'owner'] as const;
export type AccessRole = (typeof ACCESS_ROLES)[number];

export interface CalendarListEntry {
  calendarId: string;
  accessRole: AccessRole;
  primary: boolean;
  /** Position in the user's list change sequence; a sync token answers entries above it. */
  seq: number;
  deleted: boolean;
}

export interface User {
  sub: string;
  email: string;
  entries: Map<string, CalendarListEntry>;
  seq: number;
}

interface PendingCode {
  sub: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  expiresAt: number;
}

export type CodeExchange =
  | { ok: true; sub: string; email: string; refreshToken: string; scope: string; clientId: string }
  | { ok: false; error: 'invalid_grant' | 'invalid_request'; description: string };

const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');

export class Identity {
  private readonly users = new Map<string, User>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly ownerOfToken = new Map<string, string>();
  /** Who consents at the authorization endpoint (default: the first user, created on demand). */
  consentingUser: string | undefined;
  /** When true the authorization endpoint answers `error=access_denied` (the user clicked Cancel). */
  denyConsent = false;

  constructor(
    private readonly auth: Auth,
    private readonly now: () => number,
    /** Called when a user's calendar list changed (fans out calendarList pings). */
    private readonly changed: (sub: string) => void = () => undefined,
  ) {}

  reset(): void {
    this.users.clear();
    this.codes.clear();
    this.ownerOfToken.clear();
    this.consentingUser = undefined;
    this.denyConsent = false;
  }

  addUser(email: string, sub?: string): User {
    const id = sub ?? String(100_000_000_000_000_000_000n + BigInt(`0x${randomBytes(8).toString('hex')}`));
    const existing = this.users.get(id);
    if (existing) return existing;
    const user: User = { sub: id, email, entries: new Map(), seq: 0 };
    this.users.set(id, user);
    return user;
  }

  user(sub: string): User | undefined {
    return this.users.get(sub);
  }

  /** The user a refresh token (or the access token it granted) acts for. */
  userOfToken(refreshToken: string): User | undefined {
    const sub = this.ownerOfToken.get(refreshToken);
    return sub === undefined ? undefined : this.users.get(sub);
  }

  /** Adds the calendar to the user's list, or changes its role; one change, one ping. */
  share(sub: string, calendarId: string, opts: { accessRole?: AccessRole; primary?: boolean } = {}): CalendarListEntry {
    const user = this.mustUser(sub);
    const entry: CalendarListEntry = {
      calendarId,
      accessRole: opts.accessRole ?? 'owner',
      primary: opts.primary ?? false,
      seq: ++user.seq,
      deleted: false,
    };
    user.entries.set(calendarId, entry);
    this.changed(sub);
    return entry;
  }

  /** Removes (unsubscribes / unshares) the calendar from the user's list; false when not listed. */
  unshare(sub: string, calendarId: string): boolean {
    const user = this.mustUser(sub);
    const entry = user.entries.get(calendarId);
    if (!entry || entry.deleted) return false;
    entry.deleted = true;
    entry.seq = ++user.seq;
    this.changed(sub);
    return true;
  }

  /** Consent at the authorization endpoint: a code for the consenting user, or undefined when denied. */
  consent(req: { clientId: string; redirectUri: string; challenge: string; scope: string }): string | undefined {
    if (this.denyConsent) return undefined;
    const user = (this.consentingUser && this.users.get(this.consentingUser)) || this.users.values().next().value || this.addUser('user@example.com');
    const code = `4/emu-${randomBytes(24).toString('base64url')}`;
    this.codes.set(code, { sub: user.sub, ...req, expiresAt: this.now() + CODE_TTL_MS });
    return code;
  }

  /** The authorization-code grant: single use, same client and redirect URI, PKCE S256 verified. */
  exchange(req: { code: string; verifier: string | undefined; clientId: string | undefined; redirectUri: string | undefined }): CodeExchange {
    const pending = this.codes.get(req.code);
    // Deleted whatever happens next: a code is good for one attempt, as on Google.
    this.codes.delete(req.code);
    if (!pending || pending.expiresAt <= this.now()) return { ok: false, error: 'invalid_grant', description: 'Malformed auth code.' };
    if (req.clientId !== undefined && req.clientId !== pending.clientId) return { ok: false, error: 'invalid_grant', description: 'Unauthorized.' };
    if (req.redirectUri !== pending.redirectUri) return { ok: false, error: 'invalid_grant', description: 'Bad Request' };
    if (!req.verifier) return { ok: false, error: 'invalid_grant', description: 'Missing code verifier.' };
    if (s256(req.verifier) !== pending.challenge) return { ok: false, error: 'invalid_grant', description: 'Invalid code verifier.' };
    const user = this.mustUser(pending.sub);
    const refreshToken = `1//emu-${randomBytes(32).toString('base64url')}`;
    this.auth.addAccount(refreshToken);
    this.ownerOfToken.set(refreshToken, user.sub);
    return { ok: true, sub: user.sub, email: user.email, refreshToken, scope: pending.scope, clientId: pending.clientId };
  }

  /** Revokes every refresh token the user granted (what "Remove access" in the Google account does). */
  revokeUser(sub: string): number {
    let n = 0;
    for (const [token, owner] of this.ownerOfToken) {
      if (owner !== sub) continue;
      this.auth.revoke(token);
      this.ownerOfToken.delete(token);
      n++;
    }
    return n;
  }

  private mustUser(sub: string): User {
    const user = this.users.get(sub);
    if (!user) throw new UnknownUserError(sub);
    return user;
  }
}

export class UnknownUserError extends Error {
  constructor(sub: string) {
    super(`unknown user ${sub}`);
    this.name = 'UnknownUserError';
  }
}

/** An unsigned OpenID id_token (alg "none"): the emulator answers its own token endpoint directly. */
export function idToken(claims: { iss: string; aud: string; sub: string; email: string; iat: number }): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ ...claims, email_verified: true, exp: claims.iat + 3600 })}.`;
}
