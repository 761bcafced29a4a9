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
