import { createCipheriv, randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { Types, type Connection } from 'mongoose';
import { AccountService, LEGACY_KEY_LABEL } from '../../src/accounts/account-service.js';
import { connectDatabase } from '../../src/db/connect.js';
import { KeyRing, keyIdOf } from '../../src/crypto/key-ring.js';
import { SecretBoxError } from '../../src/crypto/secret-box.js';
import { testDbUri } from '../helpers/db.js';
import { testEnv } from '../helpers/config.js';
import { runScript } from '../helpers/run-script.js';

const REFRESH = '1//0refresh-token-ROTATION-abcdef0123456789';

async function openDb(t: Test, name: string): Promise<{ conn: Connection; uri: string }> {
  const uri = testDbUri(name);
  const conn = await connectDatabase(uri);
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  });
  return { conn, uri };
}

/** Credentials sealed the way calsync sealed them before key ids existed (format 1, AAD = account). */
async function insertLegacyAccount(conn: Connection, key: Buffer, refreshToken: string): Promise<string> {
  const _id = new Types.ObjectId();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`calsync:account:${_id.toHexString()}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify({ kind: 'oauth', refreshToken }), 'utf8'), cipher.final()]);
  const now = new Date();
  await conn.db!.collection('accounts').insertOne({
    _id,
    kind: 'oauth',
    label: null,
    sealedCredentials: { v: 1, iv, tag: cipher.getAuthTag(), ciphertext },
    createdAt: now,
    updatedAt: now,
  });
  return _id.toHexString();
}

const sealedOf = async (conn: Connection, id: string) =>
  (await conn.db!.collection('accounts').findOne({ _id: new Types.ObjectId(id) }))?.sealedCredentials as { v: number; keyId?: string };

t.test('a key id is derived from the key: stable, 8 hex digits, different per key', async (t) => {
  const key = randomBytes(32);
  t.match(keyIdOf(key), /^[0-9a-f]{8}$/);
  t.equal(keyIdOf(Buffer.from(key)), keyIdOf(key));
  t.not(keyIdOf(randomBytes(32)), keyIdOf(key));
  t.throws(() => new KeyRing([key, Buffer.from(key)]), /listed twice/);
  t.throws(() => new KeyRing([]));
  t.throws(() => new KeyRing([randomBytes(16)]), /32 bytes/);
});

t.test('new credentials are sealed with the current key and name its id', async (t) => {
  const { conn } = await openDb(t, 'keys-current');
  const [next, prev] = [randomBytes(32), randomBytes(32)];
  const { id } = await new AccountService(conn, new KeyRing([next, prev])).create({ kind: 'oauth', refreshToken: REFRESH });
  const sealed = await sealedOf(conn, id);
  t.equal(sealed.v, 2);
  t.equal(sealed.keyId, keyIdOf(next));
  t.notOk(JSON.stringify(sealed).includes(next.toString('base64')), 'the key id is not the key');
});

t.test('after a new key is rolled in, credentials sealed with the previous key still open', async (t) => {
  const { conn } = await openDb(t, 'keys-roll');
  const [old, next] = [randomBytes(32), randomBytes(32)];
  const { id } = await new AccountService(conn, new KeyRing([old])).create({ kind: 'oauth', refreshToken: REFRESH });
  const rolled = new AccountService(conn, new KeyRing([next, old]));
  t.same(await rolled.credentials(id), { kind: 'oauth', refreshToken: REFRESH });
  t.same(await rolled.keyUsage(), { [keyIdOf(old)]: 1 });

  // Once the old key is dropped from the ring, the error names the missing key id (never a key).
  const err = await new AccountService(conn, new KeyRing([next])).credentials(id).catch((e: unknown) => e);
  t.ok(err instanceof SecretBoxError);
  t.match((err as Error).message, `needs key ${keyIdOf(old)}`);
});

t.test('rotation re-seals every account with the current key; a second run has nothing to do', async (t) => {
  const { conn } = await openDb(t, 'keys-rotate');
  const [old, next] = [randomBytes(32), randomBytes(32)];
  const before = new AccountService(conn, new KeyRing([old]));
  const a = (await before.create({ kind: 'oauth', refreshToken: `${REFRESH}-a` })).id;
  const b = (await before.create({ kind: 'service_account', serviceAccountKey: { client_email: 'x@y.z', private_key: 'k' }, subject: 's@y.z' })).id;
  const legacy = await insertLegacyAccount(conn, old, `${REFRESH}-legacy`);

  const service = new AccountService(conn, new KeyRing([next, old]));
  t.same(await service.keyUsage(), { [keyIdOf(old)]: 2, [LEGACY_KEY_LABEL]: 1 });
  const report = await service.rotateKeys();
  t.same(
    { examined: report.examined, resealed: report.resealed, failed: report.failed, usage: report.usage },
    { examined: 3, resealed: 3, failed: [], usage: { [keyIdOf(next)]: 3 } },
  );
  for (const id of [a, b, legacy]) t.equal((await sealedOf(conn, id)).keyId, keyIdOf(next), 'sealed with the new key');

  // The old key can go now: everything opens with the new key alone, with the same plaintext.
  const onlyNext = new AccountService(conn, new KeyRing([next]));
  t.same(await onlyNext.credentials(a), { kind: 'oauth', refreshToken: `${REFRESH}-a` });
  t.same(await onlyNext.credentials(legacy), { kind: 'oauth', refreshToken: `${REFRESH}-legacy` });
  t.same(await onlyNext.credentials(b), { kind: 'service_account', serviceAccountKey: { client_email: 'x@y.z', private_key: 'k' }, subject: 's@y.z' });

  const again = await service.rotateKeys();
  t.equal(again.examined, 0);
  t.equal(again.resealed, 0);
});

t.test('legacy credentials (no key id) open with any listed key and stay bound to their account', async (t) => {
  const { conn } = await openDb(t, 'keys-legacy');
  const old = randomBytes(32);
  const first = await insertLegacyAccount(conn, old, `${REFRESH}-1`);
  const second = await insertLegacyAccount(conn, old, `${REFRESH}-2`);
  const service = new AccountService(conn, new KeyRing([randomBytes(32), old]));
  t.same(await service.credentials(first), { kind: 'oauth', refreshToken: `${REFRESH}-1` });

  const coll = conn.db!.collection('accounts');
  const donor = await coll.findOne({ _id: new Types.ObjectId(first) });
  await coll.updateOne({ _id: new Types.ObjectId(second) }, { $set: { sealedCredentials: donor?.sealedCredentials } });
  await t.rejects(service.credentials(second), SecretBoxError, 'a legacy ciphertext moved to another account does not open');
  await t.rejects(new AccountService(conn, randomBytes(32)).credentials(first), SecretBoxError, 'nor with a key not listed');
});

t.test('a re-sealed ciphertext moved to another account does not open (AAD binds it to its account)', async (t) => {
  const { conn } = await openDb(t, 'keys-aad');
  const key = randomBytes(32);
  const service = new AccountService(conn, new KeyRing([key]));
  const first = (await service.create({ kind: 'oauth', refreshToken: `${REFRESH}-1` })).id;
  const second = (await service.create({ kind: 'oauth', refreshToken: `${REFRESH}-2` })).id;
  const coll = conn.db!.collection('accounts');
  const donor = await coll.findOne({ _id: new Types.ObjectId(first) });
  await coll.updateOne({ _id: new Types.ObjectId(second) }, { $set: { sealedCredentials: donor?.sealedCredentials } });
  await t.rejects(service.credentials(second), SecretBoxError);
  t.same(await service.credentials(first), { kind: 'oauth', refreshToken: `${REFRESH}-1` }, 'the donor still opens in place');
});

t.test('rotation reports accounts no listed key opens, and leaves them untouched', async (t) => {
  const { conn } = await openDb(t, 'keys-unreadable');
  const [lost, next] = [randomBytes(32), randomBytes(32)];
  const orphan = (await new AccountService(conn, new KeyRing([lost])).create({ kind: 'oauth', refreshToken: REFRESH })).id;
  const before = await sealedOf(conn, orphan);
  const report = await new AccountService(conn, new KeyRing([next])).rotateKeys();
  t.equal(report.resealed, 0);
  t.same(report.failed.map((f) => f.accountId), [orphan]);
  t.match(report.failed[0]?.reason, `needs key ${keyIdOf(lost)}`);
  t.same(report.usage, { [keyIdOf(lost)]: 1 });
  t.same(await sealedOf(conn, orphan), before, 'the stored ciphertext is unchanged');
});

t.test('npm run rotate-keys re-seals with the current key, reports counts per key id, never a value', async (t) => {
  const { conn, uri } = await openDb(t, 'keys-script');
  const [old, next] = [randomBytes(32), randomBytes(32)];
  await new AccountService(conn, new KeyRing([old])).create({ kind: 'oauth', refreshToken: REFRESH });
  await insertLegacyAccount(conn, old, REFRESH);
  const env = testEnv({ MONGODB_URI: uri, ENCRYPTION_KEYS: `${next.toString('base64')},${old.toString('base64')}` });
  delete (env as Record<string, string | undefined>).ENCRYPTION_KEY;

  const r = await runScript('rotate-keys', env);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `rotate-keys: ok: current key ${keyIdOf(next)}; re-sealed 2 of 2 account(s) not on it; accounts per key: ${keyIdOf(next)} (current): 2\n`);
  for (const secret of [REFRESH, next.toString('base64'), old.toString('base64')]) t.notOk((r.stdout + r.stderr).includes(secret));
  t.same(await new AccountService(conn, new KeyRing([next])).keyUsage(), { [keyIdOf(next)]: 2 });
});

t.test('npm run rotate-keys exits 1 naming what still uses an old key when an account cannot be opened', async (t) => {
  const { conn, uri } = await openDb(t, 'keys-script-fail');
  const [lost, next] = [randomBytes(32), randomBytes(32)];
  const { id } = await new AccountService(conn, new KeyRing([lost])).create({ kind: 'oauth', refreshToken: REFRESH });
  await new AccountService(conn, new KeyRing([next])).create({ kind: 'oauth', refreshToken: REFRESH });
  const r = await runScript('rotate-keys', testEnv({ MONGODB_URI: uri, ENCRYPTION_KEY: next.toString('base64') }));
  t.equal(r.code, 1);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, `rotate-keys: 1 account(s) could not be opened with any key in ENCRYPTION_KEYS (first: account ${id}: `);
  t.match(r.stderr, `${keyIdOf(lost)} (not in ENCRYPTION_KEYS): 1`);
  t.match(r.stderr, `${keyIdOf(next)} (current): 1`);
  t.notOk(r.stderr.includes(REFRESH) || r.stderr.includes(next.toString('base64')));
});

t.test('npm run rotate-keys with a bad ENCRYPTION_KEYS exits 1 without echoing it', async (t) => {
  const env = testEnv({ ENCRYPTION_KEYS: 'hunter2hunter2,also-bad' });
  delete (env as Record<string, string | undefined>).ENCRYPTION_KEY;
  const r = await runScript('rotate-keys', env);
  t.equal(r.code, 1);
  t.match(r.stderr, /^rotate-keys: invalid configuration: .*ENCRYPTION_KEYS must be comma-separated keys/);
  t.notMatch(r.stderr, /hunter2|also-bad/);
});
