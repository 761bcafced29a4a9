import t from 'tap';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connect.js';
import { loggerOptions } from '../../src/logger.js';
import { testConfig } from '../helpers/config.js';
import { testDbUri } from '../helpers/db.js';

const ADMIN = 'malformed-admin-token-0123456789abcdefXYZ';
const CHANNEL_TOKEN = 'channel-token-in-a-broken-request-0123456789';

/** Every text a log value can hide: strings, and byte arrays or serialized Buffers decoded back to text. */
function decodedTexts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) out.push(Buffer.from(value as number[]).toString('latin1'));
    for (const v of value) decodedTexts(v, out);
  } else if (value && typeof value === 'object') for (const v of Object.values(value)) decodedTexts(v, out);
  return out;
}

/** Sends raw bytes and reads the whole answer until the server closes the connection. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

t.test('a badly framed request gets the JSON error shape, and its raw bytes never reach the trace log', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const conn = await connectDatabase(testDbUri('malformed'));
  const app = await buildApp({ config: testConfig({ ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'trace' }), conn, logger: pino(loggerOptions('trace'), sink) });
  t.teardown(async () => {
    await app.close();
    await conn.close();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;

  for (const contentLength of ['abc', '1, 2', '-5']) {
    const answer = await rawRequest(
      port,
      `POST /admin/calendars HTTP/1.1\r\nHost: calsync\r\nAuthorization: Bearer ${ADMIN}\r\n` +
        `X-Goog-Channel-Token: ${CHANNEL_TOKEN}\r\nContent-Length: ${contentLength}\r\n\r\n{}`,
    );
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    t.match(head, /^HTTP\/1\.1 400 /, `Content-Length: ${contentLength} → 400`);
    t.match(head, /content-type: application\/json/i);
    t.same(JSON.parse(body), { error: { code: 'BAD_REQUEST', message: 'the HTTP request is malformed' } });
  }

  const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(entries.some((e) => e.msg === 'malformed HTTP request refused'), 'the refusal is logged');
  const texts = entries.flatMap((e) => decodedTexts(e));
  for (const [name, secret] of Object.entries({ ADMIN, CHANNEL_TOKEN })) {
    t.notOk(texts.some((text) => text.includes(secret)), `${name} is in no log value, decoded or not`);
  }
});

t.test('an undecodable URL gets the JSON error shape without echoing the URL', async (t) => {
  const conn = await connectDatabase(testDbUri('malformed-url'));
  const app = await buildApp({ config: testConfig(), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.close();
  });
  const res = await app.inject({ method: 'GET', url: '/admin/calendars/%E0%A4%A' });
  t.equal(res.statusCode, 400);
  t.same(res.json(), { error: { code: 'BAD_REQUEST', message: 'the request URL is malformed' } });
});

t.test('the logger drops raw request bytes from any logged error, whoever logs it', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = pino(loggerOptions('trace'), sink);
  const err = Object.assign(new Error('Parse Error: Invalid character in Content-Length'), {
    code: 'HPE_INVALID_CONTENT_LENGTH',
    rawPacket: Buffer.from(`POST / HTTP/1.1\r\nAuthorization: Bearer ${ADMIN}\r\n\r\n`),
  });
  log.trace({ err }, 'client error');
  log.trace({ err: { ...err, message: err.message } }, 'client error as a plain object');
  const entries = lines.map((l) => JSON.parse(l) as { err: Record<string, unknown> });
  t.equal(entries.length, 2);
  t.equal(entries[0]?.err.code, 'HPE_INVALID_CONTENT_LENGTH', 'the error itself is still logged');
  t.notOk(decodedTexts(entries).some((text) => text.includes(ADMIN)), 'no decoded log value holds the token');
});
