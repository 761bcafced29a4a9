import { AccountNotFoundError } from '../../accounts/account-service.js';
import { CalendarNotFoundError } from '../../accounts/calendar-clients.js';
import { CalendarExistsError } from '../../calendars/calendar-registry.js';
import { InvalidCursorError } from '../../calendars/calendar-views.js';

/** An error the shared error handler turns into `{error: {code, message}}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Domain errors with a stable code → HTTP; anything else is rethrown untouched (a 500 without details). */
export function toHttpError(err: unknown): unknown {
  if (err instanceof CalendarNotFoundError) return new HttpError(404, err.code, 'calendar not found');
  if (err instanceof AccountNotFoundError) return new HttpError(400, err.code, 'accountId does not name a registered account');
  if (err instanceof CalendarExistsError) {
    return new HttpError(409, err.code, `this calendar is already registered for this account (id ${err.existingId})`);
  }
  if (err instanceof InvalidCursorError) return new HttpError(400, err.code, err.message);
  return err;
}
