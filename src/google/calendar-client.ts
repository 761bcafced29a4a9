import { google, type calendar_v3 } from 'googleapis';
import { JWT, OAuth2Client } from 'google-auth-library';

/** Read-only access covers events.list, events.watch and channels.stop. */
export const CALENDAR_SCOPES = ['https://www.googleapis.com/auth/calendar.readonly'];

export interface ApiEndpoint {
  /** `https://www.googleapis.com/` in production, the emulator's base URL in dev and tests. */
  apiRootUrl: string;
  /**
   * Longest wait for one Google call, token refreshes included (GOOGLE_REQUEST_TIMEOUT_MS). Without it
   * a call whose answer never comes would hold its calendar's lease for as long as the process lives,
   * since the lease's heartbeat keeps it; with it the pass fails as transient and is retried.
   */
  requestTimeoutMs?: number;
}

export interface OAuthCredentials extends ApiEndpoint {
  oauthTokenUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

export interface ServiceAccountCredentials extends ApiEndpoint {
  serviceAccountKey: ServiceAccountKey;
  /** The Workspace user to impersonate (domain-wide delegation). */
  subject: string;
  /** Defaults to CALENDAR_SCOPES. */
  scopes?: string[];
}

export type CalendarClientCredentials = OAuthCredentials | ServiceAccountCredentials;

const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

/**
 * Builds a googleapis Calendar client. Retries are switched off here on purpose: the sync engine
 * owns the retry policy (rate limits, Retry-After, bounded attempts), and googleapis' own retry
 * would multiply it and ignore `Retry-After`.
 *
 * Service-account tokens always come from Google's token endpoint (google-auth-library hardcodes
 * it for JWT), so only OAuth accounts can run against the emulator.
 */
export function createCalendarClient(creds: CalendarClientCredentials): calendar_v3.Calendar {
  const auth =
    'refreshToken' in creds
      ? oauthClient(creds)
      : new JWT({
          email: creds.serviceAccountKey.client_email,
          key: creds.serviceAccountKey.private_key,
          keyId: creds.serviceAccountKey.private_key_id,
          subject: creds.subject,
          scopes: creds.scopes ?? CALENDAR_SCOPES,
          transporterOptions: { timeout: creds.requestTimeoutMs },
        });
  return google.calendar({ version: 'v3', auth, rootUrl: withSlash(creds.apiRootUrl), retry: false, timeout: creds.requestTimeoutMs });
}

/**
 * An access token Google stops honouring before our cached expiry (clock skew, early expiry)
 * answers 401: drop it, refresh once and repeat the request, instead of failing the sync as a
 * permission problem. google-auth-library's own `forceRefreshOnFailure` would do this for 403 as
 * well, and Google answers rate limits with 403: that would retry them at once, without backoff.
 */
// gaxios' own types come in a CJS and an ESM flavour; take the ones google-auth-library uses.
type RequestOptions = Parameters<OAuth2Client['request']>[0];

class RefreshOn401Client extends OAuth2Client {
  protected override async requestAsync<T>(opts: RequestOptions, reAuthRetried = false) {
    try {
      return await super.requestAsync<T>(opts, reAuthRetried);
    } catch (err) {
      const status = (err as { response?: { status?: number } }).response?.status;
      if (reAuthRetried || status !== 401 || !this.credentials.refresh_token) throw err;
      this.credentials = { refresh_token: this.credentials.refresh_token };
      return super.requestAsync<T>(opts, true);
    }
  }
}

function oauthClient(creds: OAuthCredentials): OAuth2Client {
  const client = new RefreshOn401Client({
    clientId: creds.clientId,
    clientSecret: creds.clientSecret,
    endpoints: { oauth2TokenUrl: creds.oauthTokenUrl },
    transporterOptions: { timeout: creds.requestTimeoutMs },
  });
  client.setCredentials({ refresh_token: creds.refreshToken });
  return client;
}
