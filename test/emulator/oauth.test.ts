import t from 'tap';
import { calendarClient, failure, oauthClient, REFRESH_TOKEN, setup } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('googleapis OAuth2Client refreshes through the emulator token endpoint unchanged', async (t) => {
  const { emu, auth } = await setup(t);
  const { token, res } = await auth.getAccessToken();
  t.match(token, /^ya29\./);
  // The library turns expires_in into expiry_date.
  t.match(res?.data, { token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/calendar' });
  const left = (auth.credentials.expiry_date ?? 0) - Date.now();
  t.ok(left > 3590_000 && left <= 3599_000, 'expires_in was 3599 s');
  t.equal(emu.stats().token, 1);
});

t.test('an unknown refresh token fails with invalid_grant through googleapis', async (t) => {
  const { emu } = await setup(t);
  const cal = calendarClient(emu, oauthClient(emu, 'never-registered'));
  const res = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(res.status, 400);
  t.strictSame(res.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  t.equal(emu.stats()['events.list'], undefined, 'no API call was made');
});

t.test('the token endpoint answers the raw refresh-token grant, rejects unknown grants and unknown codes', async (t) => {
  const { emu } = await setup(t);
  const form = (o: Record<string, string>) => ({
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString(),
  });
  const ok = await fetch(emu.tokenUrl, form({ grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN, client_id: 'c', client_secret: 's' }));
  t.equal(ok.status, 200);
  const body = (await ok.json()) as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
  const other = await fetch(emu.tokenUrl, form({ grant_type: 'password', username: 'x' }));
  t.equal(other.status, 400);
  t.match(await other.json(), { error: 'unsupported_grant_type' });
  const unknownCode = await fetch(emu.tokenUrl, form({ grant_type: 'authorization_code', code: 'x', code_verifier: 'v', redirect_uri: 'http://localhost/cb' }));
  t.equal(unknownCode.status, 400);
  t.match(await unknownCode.json(), { error: 'invalid_grant' });
});

t.test('a call without a bearer token or with a bogus one answers Google\'s 401', async (t) => {
  const { emu } = await setup(t);
  const expected = {
    error: {
      errors: [{ domain: 'global', reason: 'authError', message: 'Invalid Credentials', locationType: 'header', location: 'Authorization' }],
      code: 401,
      message: 'Invalid Credentials',
    },
  };
  const url = `${emu.url}/calendar/v3/calendars/${encodeURIComponent(CAL)}/events`;
  const none = await fetch(url);
  t.equal(none.status, 401);
  t.strictSame(await none.json(), expected);
  t.match(none.headers.get('www-authenticate'), /^Bearer /);
  const bogus = await fetch(url, { headers: { authorization: 'Bearer ya29.made-up' } });
  t.equal(bogus.status, 401);
  t.strictSame(await bogus.json(), expected);
});

t.test('access tokens expire by the emulator clock; a client that refreshes on 401 recovers', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const { emu, cal } = await setup(t, { now: () => now });
  await cal.events.list({ calendarId: CAL });
  now += 3600 * 1000;
  // googleapis trusts its own clock for expiry, so with a fake emulator clock it sees a 401.
  const res = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(res.status, 401);
  const auth = oauthClient(emu);
  auth.forceRefreshOnFailure = true;
  const fresh = calendarClient(emu, auth);
  await fresh.events.list({ calendarId: CAL });
  now += 3600 * 1000;
  const { status } = await fresh.events.list({ calendarId: CAL });
  t.equal(status, 200, 'refreshed after the 401');
  t.equal(emu.stats().token, 3, 'one refresh for the first client, two for the second');
});

t.test('a revoked refresh token stops working, and so do its access tokens', async (t) => {
  const { emu, cal } = await setup(t);
  await cal.events.list({ calendarId: CAL });
  const revoke = await fetch(`${emu.url}/emulator/accounts/revoke`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: REFRESH_TOKEN }),
  });
  t.equal(revoke.status, 204);
  const res = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(res.status, 401);
  const fresh = calendarClient(emu, oauthClient(emu));
  const again = await failure(fresh.events.list({ calendarId: CAL }));
  t.match(again.body, { error: 'invalid_grant' });
});
