import type { ChangeModel } from './change-model.js';

const TTL_INDEX = 'seenAt_ttl';

/**
 * Expired change records are removed by the database (a TTL index on `seenAt`), not by a job. The
 * retention comes from config, so the index is created here rather than in the schema, and changed
 * in place (collMod) when CHANGE_RETENTION_DAYS changes.
 */
export async function ensureRetentionIndex(Change: ChangeModel, retentionSeconds: number): Promise<void> {
  await Change.init();
  try {
    await Change.collection.createIndex({ seenAt: 1 }, { name: TTL_INDEX, expireAfterSeconds: retentionSeconds });
  } catch (err) {
    const code = (err as { code?: number }).code;
    // IndexOptionsConflict / IndexKeySpecsConflict: the index exists with another retention.
    if (code !== 85 && code !== 86) throw err;
    await Change.db.db!.command({ collMod: Change.collection.collectionName, index: { name: TTL_INDEX, expireAfterSeconds: retentionSeconds } });
  }
}
