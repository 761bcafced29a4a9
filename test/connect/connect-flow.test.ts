import t, { type Test } from 'tap';
import { AUTH, startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { callback, consent, startConnect } from './helpers.js';

// The harness points GOOGLE_OAUTH_AUTH_URL at the emulator's authorization endpoint.
const harness = (t: Test, name: string): Promise<PushHarness> => startPushHarness(t, { name, sync: 'recording' });

const accounts = (h: PushHarness) => h.conn.db!.collection('accounts').find().toArray();

t.test('connect → consent → callback creates the account of that Google user; connecting again keeps the same account', async (t) => {
  const h = await harness(t, 'connect-ok');
  const sub = h.emu.addUser('ada@example.com', { sub: '1000001' });
  const { consentUrl, cookie } = await startConnect(h, { headers: AUTH });
  t.equal(`${consentUrl.origin}${consentUrl.pathname}`, h.emu.authUrl);
  const q = consentUrl.searchParams;
  t.match(Object.fromEntries(q), { response_type: 'code', access_type: 'offline', prompt: 'consent', code_challenge_method: 'S256', client_id: 'test-client' });
  t.ok(q.get('state') && q.get('code_challenge'));
  t.equal(q.get('redirect_uri'), `${h.baseUrl}/connect/google/callback`);
  t.match(q.get('scope'), /calendar\.readonly/);
  t.match(cookie, /^calsync_connect=\S+/);

  const res = await callback(h, await consent(consentUrl), cookie);
  t.equal(res.statusCode, 200, res.body);
  t.match(res.body, /Account connected/);
  const [acc, ...more] = await accounts(h);
  t.equal(more.length, 0);
  t.match(acc, { googleSub: sub, email: 'ada@example.com', kind: 'oauth', status: 'active' });
  t.notMatch(JSON.stringify(acc), /1\/\/emu-/, 'the refresh token is stored sealed only');

  const again = await startConnect(h, { headers: AUTH });
  const second = await callback(h, await consent(again.consentUrl), again.cookie);
  t.equal(second.statusCode, 200);
  const after = await accounts(h);
  t.equal(after.length, 1, 'the same Google user is the same account');
  t.equal(String(after[0]!._id), String(acc!._id));
  // The new refresh token replaced the old one: the account's credentials open to the newest.
  const creds = await h.accounts.credentials(String(acc!._id));
  t.match(creds, { kind: 'oauth', refreshToken: /^1\/\/emu-/ });
});

t.test('denied consent shows a 403 page and creates nothing', async (t) => {
  const h = await harness(t, 'connect-denied');
  h.emu.addUser('ada@example.com');
  h.emu.setConsent({ deny: true });
  const { consentUrl, cookie } = await startConnect(h, { headers: AUTH });
  const path = await consent(consentUrl);
  t.match(path, /error=access_denied/);
  const res = await callback(h, path, cookie);
  t.equal(res.statusCode, 403);
  t.match(res.headers['content-type'], /text\/html/);
  t.match(res.body, /not granted/);
  t.equal((await accounts(h)).length, 0);
});

t.test('a forged state, a state from another browser, an expired state and a replayed state get a 400 page and change nothing', async (t) => {
  const h = await harness(t, 'connect-state');
  h.emu.addUser('ada@example.com');

  const forged = await startConnect(h, { headers: AUTH });
  const forgedPath = (await consent(forged.consentUrl)).replace(/state=[^&]+/, 'state=forged-state');
  const r1 = await callback(h, forgedPath, forged.cookie);
  t.equal(r1.statusCode, 400, 'forged state');
  t.match(r1.body, /invalid, expired or already used/);

  const other = await startConnect(h, { headers: AUTH });
  const otherPath = await consent(other.consentUrl);
  t.equal((await callback(h, otherPath, 'calsync_connect=someone-else')).statusCode, 400, 'another browser (wrong cookie)');
  t.equal((await callback(h, otherPath, undefined)).statusCode, 400, 'no cookie');
  t.equal((await accounts(h)).length, 0);

  const expiring = await startConnect(h, { headers: AUTH });
  const expiringPath = await consent(expiring.consentUrl);
  h.advance(11 * 60_000);
  t.equal((await callback(h, expiringPath, expiring.cookie)).statusCode, 400, 'expired state (10 minutes)');
  h.advance(-11 * 60_000);
  t.equal((await accounts(h)).length, 0);

  // The browser that started the "other" attempt can still finish it once; a replay is refused.
  const ok = await startConnect(h, { headers: AUTH });
  const okPath = await consent(ok.consentUrl);
  t.equal((await callback(h, okPath, ok.cookie)).statusCode, 200);
  const replay = await callback(h, okPath, ok.cookie);
  t.equal(replay.statusCode, 400, 'replayed state');
  t.equal((await accounts(h)).length, 1);
});

t.test('a code bound to another PKCE challenge fails the verifier check: 400 page, nothing changed', async (t) => {
  const h = await harness(t, 'connect-pkce');
  h.emu.addUser('ada@example.com');
  const { consentUrl, cookie } = await startConnect(h, { headers: AUTH });
  // An attacker's code (issued for their own challenge) injected into our callback.
  consentUrl.searchParams.set('code_challenge', 'A'.repeat(43));
  const res = await callback(h, await consent(consentUrl), cookie);
  t.equal(res.statusCode, 400);
  t.match(res.body, /refused the authorization code/);
  t.equal((await accounts(h)).length, 0);
});

t.test('GET /connect/google needs the admin token or a signed link; POST /admin/connect-links mints one', async (t) => {
  const h = await harness(t, 'connect-links');
  h.emu.addUser('ada@example.com');
  t.equal((await h.app.inject({ method: 'GET', url: '/connect/google' })).statusCode, 401);
  t.equal((await h.app.inject({ method: 'GET', url: '/connect/google?expires=99999999999&sig=abc' })).statusCode, 401);
  t.equal((await h.app.inject({ method: 'POST', url: '/admin/connect-links', payload: {} })).statusCode, 401);

  const minted = await h.app.inject({ method: 'POST', url: '/admin/connect-links', headers: AUTH, payload: { ttlSeconds: 600 } });
  t.equal(minted.statusCode, 201);
  const link = new URL(minted.json().url);
  t.equal(link.origin, h.baseUrl);
  const started = await startConnect(h, { query: link.search });
  t.equal((await callback(h, await consent(started.consentUrl), started.cookie)).statusCode, 200);

  const tampered = link.search.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 1}`);
  t.equal((await h.app.inject({ method: 'GET', url: `/connect/google${tampered}` })).statusCode, 401, 'a changed expiry breaks the signature');
  h.advance(601_000);
  const late = await h.app.inject({ method: 'GET', url: `/connect/google${link.search}` });
  t.equal(late.statusCode, 401, 'an expired link');
  t.match(late.body, /expired/);
});
