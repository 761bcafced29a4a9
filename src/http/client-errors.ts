import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Requests that never become a route: bytes Node's HTTP parser refuses (bad framing, a bad
 * Content-Length, oversized headers) and URLs Fastify cannot route. Both answer in the API's one
 * error shape, `{error: {code, message}}`, instead of Node's or Fastify's own bodies.
 */

const PARSER_ANSWERS: Record<string, [status: number, code: string, message: string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are too large'],
};
const MALFORMED: [number, string, string] = [400, 'BAD_REQUEST', 'the HTTP request is malformed'];

/**
 * Fastify's `clientErrorHandler`. The error is never logged as an object: Node attaches the raw
 * request bytes to it (`err.rawPacket`), which hold whatever the client sent, bearer and channel
 * tokens included. Only the parser's error code is worth keeping.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = PARSER_ANSWERS[err.code ?? ''] ?? MALFORMED;
  this.log.debug({ parserError: err.code, status }, 'malformed HTTP request refused');
  if (socket.writable) {
    const body = JSON.stringify({ error: { code, message } });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Fastify's `frameworkErrors`: a URL that cannot be decoded or routed, never echoed back. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void reply.code(status).send({ error: { code: 'BAD_REQUEST', message: 'the request URL is malformed' } });
}
