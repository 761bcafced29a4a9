import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { SubscriptionService } from '../../subscriptions/subscription-service.js';
import { ErrorReply, IdParams, ObjectIdString } from './schemas.js';

const ChangeType = Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]);
const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const CreateSubscriptionBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    calendarIds: Type.Optional(Type.Array(ObjectIdString, { maxItems: 1000 })),
    types: Type.Optional(Type.Array(ChangeType, { minItems: 1, maxItems: 3 })),
  },
  { additionalProperties: false },
);

const SubscriptionView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  calendarIds: Type.Array(Type.String()),
  types: Type.Array(Type.String()),
  state: Type.String(),
  attempts: Type.Integer(),
  failingSince: Timestamp,
  nextAttemptAt: Timestamp,
  lastDeliveredAt: Timestamp,
  lastError: Type.Union([Type.Object({ message: Type.String(), status: Type.Union([Type.Integer(), Type.Null()]), at: Type.String() }), Type.Null()]),
  delivered: Type.Integer(),
  createdAt: Type.String(),
});

const notFound = { error: { code: 'SUBSCRIPTION_NOT_FOUND', message: 'no such subscription' } };

/** Webhook subscriptions to the change feed (docs/change-feed.md). The secret is shown once, at creation. */
export const subscriptionRoutes: FastifyPluginAsyncTypebox<{ subscriptions: SubscriptionService }> = async (app, { subscriptions }) => {
  app.post(
    '/subscriptions',
    { schema: { body: CreateSubscriptionBody, response: { 201: Type.Object({ id: Type.String(), secret: Type.String() }), 400: ErrorReply, 401: ErrorReply } } },
    async (req, reply) => reply.code(201).send(await subscriptions.create(req.body)),
  );
  app.get('/subscriptions', { schema: { response: { 200: Type.Object({ subscriptions: Type.Array(SubscriptionView) }), 401: ErrorReply } } }, async () => ({
    subscriptions: await subscriptions.list(),
  }));
  app.delete('/subscriptions/:id', { schema: { params: IdParams, response: { 204: Type.Null(), 401: ErrorReply, 404: ErrorReply } } }, async (req, reply) =>
    (await subscriptions.remove(req.params.id)) ? reply.code(204).send(null) : reply.code(404).send(notFound),
  );
  app.post('/subscriptions/:id/enable', { schema: { params: IdParams, response: { 202: Type.Object({ id: Type.String(), state: Type.Literal('active') }), 401: ErrorReply, 404: ErrorReply } } }, async (req, reply) =>
    (await subscriptions.enable(req.params.id)) ? reply.code(202).send({ id: req.params.id, state: 'active' as const }) : reply.code(404).send(notFound),
  );
};
