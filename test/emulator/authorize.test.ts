import t, { type Test } from 'tap';
import { OAuth2Client, CodeChallengeMethod } from 'google-auth-library';
import { google } from 'googleapis';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

const REDIRECT = 'http://127.0.0.1:1/connect/google/callback';

async function setup(t: Test): Promise<{ emu: Emulator; client: OAuth2Client }> {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const client = new OAuth2Client({
    clientId: 'client-1', clientSecret: 'secret', redirectUri: REDIRECT,
    endpoints: { oauth2AuthBaseUrl: emu.authUrl, oauth2TokenUrl: emu.tokenUrl },
  });
  return { emu, client };
}

/** Follows the consent redirect by hand and returns the callback's query. */
async function consent(client: OAuth2Client, challenge: string, state = 'st-1'): Promise<URLSearchParams> {
  const url = client.generateAuthUrl({
    access_type: 'offline', prompt: 'consent', scope: ['openid', 'email'], state,
    code_challenge: challenge, code_challenge_method: CodeChallengeMethod.S256,
  });
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  const location = new URL(res.headers.get('location')!);
  if (`${location.origin}${location.pathname}` !== REDIRECT) throw new Error(`redirected to ${location}`);
  return location.searchParams;
}

// gaxios errors carry the token endpoint's OAuth error body.
const invalidGrant = { response: { data: { error: 'invalid_grant' } } } as object as Error;

const claims = (idToken: string) => JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

t.test('automatic consent returns a code that the PKCE verifier exchanges for tokens of the consenting user', async (t) => {
  const { emu, client } = await setup(t);
  const sub = emu.addUser('ada@example.com', { sub: '1234567890' });
  const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
  const q = await consent(client, codeChallenge!);
  t.equal(q.get('state'), 'st-1');
  const { tokens } = await client.getToken({ code: q.get('code')!, codeVerifier });
  t.match(tokens.refresh_token, /^1\/\/emu-/);
  t.match(claims(tokens.id_token!), { sub, email: 'ada@example.com', aud: 'client-1' });
  // The refresh token works for API calls.
  const cal = google.calendar({ version: 'v3', auth: client, rootUrl: `${emu.url}/` });
  client.setCredentials({ refresh_token: tokens.refresh_token });
  t.same((await cal.calendarList.list()).data.items, []);
  // The same user consenting again is the same sub.
  const second = await client.generateCodeVerifierAsync();
  const q2 = await consent(client, second.codeChallenge!);
  const again = await client.getToken({ code: q2.get('code')!, codeVerifier: second.codeVerifier });
  t.equal(claims(again.tokens.id_token!).sub, sub);
});

t.test('a wrong verifier, a replayed code and a denied consent all fail', async (t) => {
  const { emu, client } = await setup(t);
  emu.addUser('ada@example.com');
  const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
  const q = await consent(client, codeChallenge!);
  await t.rejects(client.getToken({ code: q.get('code')!, codeVerifier: `${codeVerifier}x` }), invalidGrant);
  // The failed attempt used the code up, as on Google.
  await t.rejects(client.getToken({ code: q.get('code')!, codeVerifier }), invalidGrant);
  emu.setConsent({ deny: true });
  const denied = await consent(client, codeChallenge!, 'st-2');
  t.equal(denied.get('error'), 'access_denied');
  t.equal(denied.get('state'), 'st-2');
  t.equal(denied.get('code'), null);
});

t.test('calendarList.list keeps its own sync token: later shares and removals come back incrementally, and watch pings', async (t) => {
  const { emu, client } = await setup(t);
  const sub = emu.addUser('ada@example.com');
  emu.shareCalendar(sub, 'ada@example.com', { primary: true });
  emu.shareCalendar(sub, 'team@example.com', { accessRole: 'reader' });
  const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
  const q = await consent(client, codeChallenge!);
  const { tokens } = await client.getToken({ code: q.get('code')!, codeVerifier });
  client.setCredentials(tokens);
  const cal = google.calendar({ version: 'v3', auth: client, rootUrl: `${emu.url}/` });
  const full = (await cal.calendarList.list()).data;
  t.same(full.items!.map((i) => [i.id, i.accessRole, i.primary ?? false]), [['ada@example.com', 'owner', true], ['team@example.com', 'reader', false]]);
  t.ok(full.nextSyncToken);

  emu.shareCalendar(sub, 'later@example.com', { accessRole: 'writer' });
  emu.unshareCalendar(sub, 'team@example.com');
  const inc = (await cal.calendarList.list({ syncToken: full.nextSyncToken! })).data;
  t.same(inc.items!.map((i) => [i.id, i.deleted ?? false]), [['later@example.com', false], ['team@example.com', true]]);
  await t.rejects(cal.calendarList.list({ syncToken: 'CLbogus' }), { response: { status: 410 } } as object as Error);

  const watch = await cal.calendarList.watch({ requestBody: { id: 'ch-cl-1', type: 'web_hook', address: 'http://127.0.0.1:1/hook', token: 'tok' } });
  t.equal(watch.data.id, 'ch-cl-1');
  t.match(emu.channels().find((c) => c.id === 'ch-cl-1'), { calendarId: `calendarList:${sub}`, stopped: false });
});

t.test('revoking a user kills its refresh tokens (invalid_grant)', async (t) => {
  const { emu, client } = await setup(t);
  const sub = emu.addUser('ada@example.com');
  const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
  const q = await consent(client, codeChallenge!);
  const { tokens } = await client.getToken({ code: q.get('code')!, codeVerifier });
  t.equal(emu.revokeUser(sub), 1);
  const fresh = new OAuth2Client({ clientId: 'client-1', clientSecret: 'secret', endpoints: { oauth2TokenUrl: emu.tokenUrl } });
  fresh.setCredentials({ refresh_token: tokens.refresh_token });
  await t.rejects(fresh.getAccessToken(), invalidGrant);
});
