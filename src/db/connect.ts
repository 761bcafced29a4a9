import mongoose, { type Connection } from 'mongoose';

export interface ConnectOptions {
  /** Fail fast at boot instead of hanging for mongoose's default 30 s when the database is unreachable. */
  serverSelectionTimeoutMS?: number;
  maxPoolSize?: number;
}

/** Opens a dedicated connection (not the mongoose singleton) so tests and scripts can hold several. */
export async function connectDatabase(uri: string, opts: ConnectOptions = {}): Promise<Connection> {
  const conn = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 5_000,
    maxPoolSize: opts.maxPoolSize ?? 20,
    autoIndex: true,
  });
  // Operations issued while disconnected wait no longer than a server selection would (mongoose's
  // default is 10 s), so a request meets "database unavailable" within the same bound.
  conn.set('bufferTimeoutMS', opts.serverSelectionTimeoutMS ?? 5_000);
  await conn.asPromise();
  return conn;
}

/** True when the database answers a ping within the timeout. */
export async function databaseAnswers(conn: Connection, timeoutMs = 1_000): Promise<boolean> {
  if (conn.readyState !== 1 || !conn.db) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ping = conn.db.admin().ping().then(() => true);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([ping, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
