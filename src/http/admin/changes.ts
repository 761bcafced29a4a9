import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { ChangeFeed } from '../../changes/change-feed.js';
import { ErrorReply, ObjectIdString } from './schemas.js';

export const ChangesQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 100, description: 'the nextCursor of the previous read; omitted: the oldest retained change' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    calendarId: Type.Optional(ObjectIdString),
    wait: Type.Integer({ minimum: 0, maximum: 30, default: 0, description: 'seconds to wait for a change when there is none yet' }),
  },
  { additionalProperties: false },
);

const Change = Type.Object({
  cursor: Type.String(),
  calendarId: Type.String(),
  googleEventId: Type.String(),
  type: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]),
  etag: Type.String(),
  seenAt: Type.String({ format: 'date-time' }),
  event: Type.Optional(Type.Object({}, { additionalProperties: true })),
  changed: Type.Optional(Type.Object({}, { additionalProperties: true })),
});

export const ChangesPage = Type.Object({ changes: Type.Array(Change), nextCursor: Type.String() });

/** GET /admin/changes: the change feed, ordered and resumable (docs/change-feed.md). */
export const changeRoutes: FastifyPluginAsyncTypebox<{ feed: ChangeFeed }> = async (app, { feed }) => {
  // Long polls end when the server closes instead of holding shutdown for up to 30 s.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  app.get('/changes', { schema: { querystring: ChangesQuery, response: { 200: ChangesPage, 400: ErrorReply, 401: ErrorReply, 410: ErrorReply } } }, async (req) => {
    const gone = new AbortController();
    const abort = () => gone.abort();
    req.raw.once('close', abort);
    closing.signal.addEventListener('abort', abort, { once: true });
    try {
      const { after, limit, calendarId, wait } = req.query;
      return await feed.read({ after, limit, calendarId, waitMs: wait * 1000, signal: gone.signal });
    } finally {
      req.raw.off('close', abort);
      closing.signal.removeEventListener('abort', abort);
    }
  });
};
