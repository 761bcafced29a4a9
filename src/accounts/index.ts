export { accountModel, ACCOUNT_KINDS, type AccountKind, type AccountModel } from './account-model.js';
export { AccountService, AccountNotFoundError, AccountReauthRequiredError, type AccountSummary } from './account-service.js';
export { createCalendarClients, googleClientBuilder, CalendarNotFoundError, type CalendarClients, type CalendarClientBuilder } from './calendar-clients.js';
export type { AccountCredentials, OAuthCredentials, ServiceAccountCredentials } from './credentials.js';
