import mongoose, { type Connection } from 'mongoose';

/**
 * "The database does not answer" as an HTTP answer: 503 with a reason and Retry-After, so clients
 * and load balancers retry, instead of a 500 that reads as a bug in calsync.
 */
export class DatabaseUnavailableError extends Error {
  readonly statusCode = 503;
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor() {
    super('the database is not answering; try again shortly');
    this.name = 'DatabaseUnavailableError';
  }
}

export const DATABASE_RETRY_AFTER_SECONDS = 5;

const { mongo } = mongoose;
const DRIVER_UNAVAILABLE = [
  mongo.MongoNetworkError, // includes network timeouts and a cleared connection pool
  mongo.MongoServerSelectionError,
  mongo.MongoNotConnectedError,
  mongo.MongoTopologyClosedError,
];

/**
 * True when an error means the database cannot be reached (as opposed to a query that is wrong):
 * the driver's connection errors, mongoose's wrapper of server selection, and mongoose's
 * "buffering timed out" (an operation queued while disconnected). Follows `cause` a few levels.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) {
    if (e instanceof DatabaseUnavailableError) return true;
    if (DRIVER_UNAVAILABLE.some((type) => e instanceof type)) return true;
    if (e instanceof mongoose.Error.MongooseServerSelectionError) return true;
    if (e instanceof mongoose.Error && /buffering timed out/.test(e.message)) return true;
  }
  return false;
}

/**
 * Fails fast while mongoose knows it is disconnected, instead of queueing the request's queries
 * until they time out. When the loss is not noticed yet, the queries' own errors map to the same 503.
 */
export function ensureDatabaseConnected(conn: Connection): void {
  if (conn.readyState !== mongoose.ConnectionStates.connected) throw new DatabaseUnavailableError();
}
