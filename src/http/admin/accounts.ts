import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountService } from '../../accounts/account-service.js';
import type { AccountCredentials } from '../../accounts/credentials.js';
import { HttpError } from './errors.js';
import { AccountList, CreateAccountBody, CreatedId, ErrorReply } from './schemas.js';

/**
 * POST /admin/accounts: stores credentials sealed; the reply carries the id only, never the credentials.
 * GET /admin/accounts: every account with its status (reauth_required: reconnect it through /connect/google).
 */
export interface AccountRoutesOptions {
  accounts: AccountService;
  /** Refresh tokens are useless without the OAuth client they were issued to. */
  oauthClientConfigured: boolean;
}

export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, { accounts, oauthClientConfigured }) => {
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

  app.get('/accounts', { schema: { response: { 200: AccountList, 401: ErrorReply } } }, async () => {
    const all = await accounts.list();
    return {
      accounts: all.map((a) => ({ ...a, statusChangedAt: a.statusChangedAt?.toISOString() ?? null, createdAt: a.createdAt?.toISOString() ?? null })),
    };
  });
};
