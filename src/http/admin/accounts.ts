import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountService, AccountSummary } from '../../accounts/account-service.js';
import { InvalidPolicyError, validatePolicy } from '../../discovery/policy.js';
import type { AccountCredentials } from '../../accounts/credentials.js';
import { HttpError } from './errors.js';
import { AccountSettingsBody, AccountState, CreateAccountBody, CreatedId, ErrorReply, IdParams } from './schemas.js';

/**
 * POST /admin/accounts: stores credentials sealed; the reply carries the id only, never the credentials.
 * GET /admin/accounts: every account with its status (reauth_required: reconnect it through /connect/google) and discovery policy.
 */
export interface AccountRoutesOptions {
  accounts: AccountService;
  /** Refresh tokens are useless without the OAuth client they were issued to. */
  oauthClientConfigured: boolean;
  /** Asks for a discovery pass after a policy change (durable before the answer). */
  discovery?: { requestDiscovery(accountId: string, reason: string): Promise<unknown> };
}

const accountJson = (a: AccountSummary) => ({
  ...a,
  statusChangedAt: a.statusChangedAt?.toISOString() ?? null,
  createdAt: a.createdAt.toISOString(),
  discovery: {
    ...a.discovery,
    lastDiscoveryAt: a.discovery.lastDiscoveryAt?.toISOString() ?? null,
    lastError: a.discovery.lastError ? { ...a.discovery.lastError, at: a.discovery.lastError.at.toISOString() } : null,
  },
});

export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, { accounts, oauthClientConfigured, discovery }) => {
  app.get('/accounts', { schema: { response: { 200: Type.Object({ accounts: Type.Array(AccountState) }), 401: ErrorReply } } }, async () => ({
    accounts: (await accounts.list()).map(accountJson),
  }));

  app.get('/accounts/:id', { schema: { params: IdParams, response: { 200: AccountState, 401: ErrorReply, 404: ErrorReply } } }, async (req) => {
    const a = await accounts.summary(req.params.id);
    if (!a) throw new HttpError(404, 'ACCOUNT_NOT_FOUND', 'account not found');
    return accountJson(a);
  });

  // The discovery policy; the next pass re-reads the whole calendar list under it.
  app.patch(
    '/accounts/:id',
    { schema: { params: IdParams, body: AccountSettingsBody, response: { 200: AccountState, 400: ErrorReply, 401: ErrorReply, 404: ErrorReply } } },
    async (req) => {
      let policy;
      try {
        policy = validatePolicy(req.body.discovery);
      } catch (err) {
        if (err instanceof InvalidPolicyError) throw new HttpError(400, 'BAD_REQUEST', err.message);
        throw err;
      }
      if (!(await accounts.setDiscovery(req.params.id, policy))) throw new HttpError(404, 'ACCOUNT_NOT_FOUND', 'account not found');
      await discovery?.requestDiscovery(req.params.id, 'policy changed');
      req.log.info({ accountId: req.params.id, policy: policy.policy, onRemoved: policy.onRemoved, explicitIds: policy.calendarIds.length }, 'account discovery policy changed');
      return accountJson((await accounts.summary(req.params.id))!);
    },
  );

  app.post(
    '/accounts',
    { schema: { body: CreateAccountBody, response: { 201: CreatedId, 400: ErrorReply, 401: ErrorReply } } },
    async (req, reply) => {
      const { refreshToken, serviceAccountKey, subject, label } = req.body;
      let credentials: AccountCredentials;
      if (refreshToken !== undefined && serviceAccountKey === undefined && subject === undefined) {
        if (!oauthClientConfigured) {
          throw new HttpError(400, 'OAUTH_CLIENT_NOT_CONFIGURED', 'refresh-token accounts need GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET to be set on the server');
        }
        credentials = { kind: 'oauth', refreshToken };
      } else if (refreshToken === undefined && serviceAccountKey !== undefined && subject !== undefined) {
        credentials = { kind: 'service_account', serviceAccountKey, subject };
      } else {
        throw new HttpError(400, 'BAD_REQUEST', 'give either refreshToken, or serviceAccountKey and subject');
      }
      const { id } = await accounts.create(credentials, label ?? null);
      req.log.info({ accountId: id, kind: credentials.kind }, 'account registered');
      return reply.code(201).send({ id });
    },
  );

};
