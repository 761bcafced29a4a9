import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { Types } from 'mongoose';
import { AccountService } from '../../src/accounts/account-service.js';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/logger.js';
import { connectDatabase } from '../../src/db/connect.js';
import { SecretBoxError } from '../../src/crypto/secret-box.js';
import { AUTH, startPushHarness } from '../helpers/push-harness.js';
import { testDbUri } from '../helpers/db.js';

const REFRESH = '1//0refresh-token-PLAINTEXT-abcdef0123456789';
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-PLAINTEXT\n-----END PRIVATE KEY-----\n';

/** Every way the secret could sit in a raw document: text, base64, hex. */
function leaks(raw: unknown, secret: string): boolean {
  const text = JSON.stringify(raw);
  const bytes = Buffer.from(secret, 'utf8');
  const needles = [secret, bytes.toString('base64'), bytes.toString('hex'), secret.slice(4, 24)];
  return needles.some((n) => text.includes(n));
}

async function openDb(t: Test, name: string) {
  const conn = await connectDatabase(testDbUri(name));
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  });
  return conn;
}

t.test('credentials are not readable in the database documents', async (t) => {
  const conn = await openDb(t, 'acct-at-rest');
  const accounts = new AccountService(conn, randomBytes(32));
  await accounts.create({ kind: 'oauth', refreshToken: REFRESH }, 'ops');
  await accounts.create({
    kind: 'service_account',
    serviceAccountKey: { client_email: 'svc@proj.iam.gserviceaccount.com', private_key: PRIVATE_KEY },
    subject: 'someone@example.com',
  });
  const raw = await conn.db!.collection('accounts').find().toArray();
  t.equal(raw.length, 2);
  t.notOk(leaks(raw, REFRESH), 'no refresh token');
  t.notOk(leaks(raw, PRIVATE_KEY.slice(28, 60)), 'no private key');
  t.notOk(leaks(raw, 'someone@example.com'), 'the impersonated subject is sealed too');
  for (const doc of raw) {
    const sealed = doc.sealedCredentials as { iv: { buffer: Uint8Array }; tag: { buffer: Uint8Array }; ciphertext: unknown };
    t.equal(sealed.iv.buffer.length, 12, 'a 96-bit IV');
    t.equal(sealed.tag.buffer.length, 16, 'a 128-bit GCM tag');
    t.ok(sealed.ciphertext, 'and the ciphertext');
  }
});

t.test('sealed credentials open again with the same key', async (t) => {
  const conn = await openDb(t, 'acct-roundtrip');
  const key = randomBytes(32);
  const { id } = await new AccountService(conn, key).create({ kind: 'oauth', refreshToken: REFRESH });
  // A fresh service (as after a restart) reads them back.
  t.same(await new AccountService(conn, key).credentials(id), { kind: 'oauth', refreshToken: REFRESH });
});

t.test('two accounts with the same token get different ciphertexts (fresh IV per seal)', async (t) => {
  const conn = await openDb(t, 'acct-iv');
  const accounts = new AccountService(conn, randomBytes(32));
  await accounts.create({ kind: 'oauth', refreshToken: REFRESH });
  await accounts.create({ kind: 'oauth', refreshToken: REFRESH });
  const [a, b] = await conn.db!.collection('accounts').find().toArray();
  t.not(JSON.stringify(a?.sealedCredentials), JSON.stringify(b?.sealedCredentials));
});

t.test('a wrong ENCRYPTION_KEY or a ciphertext moved to another account does not open', async (t) => {
  const conn = await openDb(t, 'acct-tamper');
  const key = randomBytes(32);
  const accounts = new AccountService(conn, key);
  const { id: first } = await accounts.create({ kind: 'oauth', refreshToken: REFRESH });
  const { id: second } = await accounts.create({ kind: 'oauth', refreshToken: 'another-token' });
  await t.rejects(new AccountService(conn, randomBytes(32)).credentials(first), SecretBoxError);

  const coll = conn.db!.collection('accounts');
  const donor = await coll.findOne({ _id: new Types.ObjectId(first) });
  await coll.updateOne({ _id: new Types.ObjectId(second) }, { $set: { sealedCredentials: donor?.sealedCredentials } });
  await t.rejects(accounts.credentials(second), SecretBoxError, 'the ciphertext is bound to its account');
});

t.test('POST /admin/accounts answers with the id only and never logs the credentials', async (t) => {
  const h = await startPushHarness(t, { name: 'acct-api', sync: 'recording' });
  const lines: string[] = [];
  const app = await buildApp({
    config: h.config,
    conn: h.conn,
    logger: { ...loggerOptions('trace'), stream: { write: (s: string) => void lines.push(s) } },
  });
  t.teardown(() => app.close());

  const oauth = await app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload: { refreshToken: REFRESH, label: 'team' } });
  t.equal(oauth.statusCode, 201);
  t.same(Object.keys(oauth.json()), ['id']);
  const svc = await app.inject({
    method: 'POST',
    url: '/admin/accounts',
    headers: AUTH,
    payload: { serviceAccountKey: { client_email: 'svc@p.iam.gserviceaccount.com', private_key: PRIVATE_KEY }, subject: 'a@example.com' },
  });
  t.equal(svc.statusCode, 201);
  t.notOk(leaks(oauth.body + svc.body, REFRESH));
  t.notOk(lines.some((l) => l.includes(REFRESH) || l.includes('PLAINTEXT')), 'nothing secret in the logs');
  t.notOk(lines.some((l) => l.includes(h.config.adminToken)), 'nor the admin token');
  t.same(await h.accounts.credentials(oauth.json().id), { kind: 'oauth', refreshToken: REFRESH }, 'same database, same key: it opens');
});

t.test('an account needs either a refresh token, or a service-account key with a subject', async (t) => {
  const h = await startPushHarness(t, { name: 'acct-shape', sync: 'recording' });
  const bad = [
    {},
    { refreshToken: 'x', subject: 'a@example.com' },
    { serviceAccountKey: { client_email: 'a@b.c', private_key: 'k' } },
    { refreshToken: '' },
  ];
  for (const payload of bad) {
    const res = await h.app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(typeof res.json().error.code, 'string');
  }
  t.equal(await h.conn.db!.collection('accounts').countDocuments(), 0, 'nothing was stored');
});

t.test('a service-account key must have the flat shape Google issues: deep, non-string or oversized keys are a 400', async (t) => {
  const h = await startPushHarness(t, { name: 'acct-key-shape', sync: 'recording' });
  // ~10 KB of JSON nested 5,000 levels deep: once a 500 (stack overflow while sealing).
  // Sent as text: JSON.stringify itself cannot serialize it.
  const deep = `{"serviceAccountKey":{"client_email":"svc@p.iam.gserviceaccount.com","private_key":"k","extra":${'{"a":'.repeat(5000)}{}${'}'.repeat(5000)}},"subject":"a@example.com"}`;
  const res = await h.app.inject({ method: 'POST', url: '/admin/accounts', headers: { ...AUTH, 'content-type': 'application/json' }, payload: deep });
  t.equal(res.statusCode, 400, 'nested 5,000 deep');
  t.equal(res.json().error.code, 'BAD_REQUEST');
  const base = { client_email: 'svc@p.iam.gserviceaccount.com', private_key: 'k' };
  const bad: Array<[string, unknown]> = [
    ['an object value', { ...base, project_id: { nested: true } }],
    ['a number value', { ...base, client_id: 1234 }],
    ['an array value', { ...base, scopes: ['a'] }],
    ['too many fields', { ...base, ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'v'])) }],
    ['another key type', { ...base, type: 'authorized_user' }],
  ];
  for (const [name, serviceAccountKey] of bad) {
    const res = await h.app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload: { serviceAccountKey, subject: 'a@example.com' } });
    t.equal(res.statusCode, 400, name);
    t.equal(res.json().error.code, 'BAD_REQUEST', name);
  }
  t.equal(await h.conn.db!.collection('accounts').countDocuments(), 0, 'nothing was stored');

  const full = {
    type: 'service_account',
    project_id: 'proj',
    private_key_id: 'abc123',
    private_key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
    client_email: 'svc@proj.iam.gserviceaccount.com',
    client_id: '1234567890',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/svc%40proj.iam.gserviceaccount.com',
    universe_domain: 'googleapis.com',
    some_future_field: 'text',
  };
  const ok = await h.app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload: { serviceAccountKey: full, subject: 'a@example.com' } });
  t.equal(ok.statusCode, 201, 'a complete key as Google issues it is accepted');
});
