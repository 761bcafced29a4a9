import { stdSerializers, type LoggerOptions } from 'pino';

/**
 * Every secret calsync handles, wherever it may sit in a log object. Pino removes these before a
 * line is written, so a careless `log.info({ calendar })` cannot leak a token.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-goog-channel-token"]',
  'headers.authorization',
  'headers["x-goog-channel-token"]',
  '*.authorization',
  '*["x-goog-channel-token"]',
  'secret',
  '*.secret',
  'refreshToken',
  '*.refreshToken',
  'refresh_token',
  '*.refresh_token',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'syncToken',
  '*.syncToken',
  'nextSyncToken',
  '*.nextSyncToken',
  'pageToken',
  '*.pageToken',
  'channelToken',
  '*.channelToken',
  'token',
  '*.token',
  'serviceAccountKey',
  '*.serviceAccountKey',
  'private_key',
  '*.private_key',
  'adminToken',
  '*.adminToken',
  'encryptionKey',
  '*.encryptionKey',
  'encryptionKeys',
  '*.encryptionKeys',
  'credentials',
  '*.credentials',
  // Node's HTTP parser errors carry the raw request bytes, headers (and so tokens) included.
  'rawPacket',
  '*.rawPacket',
];

/** pino's error serializer without raw request bytes (kept as a number array they escape text greps). */
function errWithoutRawBytes(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(out)) {
    if (key === 'rawPacket' || Buffer.isBuffer(value) || value instanceof Uint8Array) delete out[key];
  }
  return out;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Query strings can carry sync or page tokens (googleapis puts them there): log the path only.
    serializers: {
      err: errWithoutRawBytes,
      req(req: { method?: string; url?: string; ip?: string; id?: string }) {
        return { id: req.id, method: req.method, url: req.url?.split('?')[0], remoteAddress: req.ip };
      },
    },
  };
}
