// `npm run rotate-keys`: re-seal every account's credentials with the current encryption key (the
// first of ENCRYPTION_KEYS), then report how many accounts each key id still seals, by id and count
// only, never a value. Safe next to running servers (each write is a compare-and-set) and to re-run.
// Exit 0 when every account is sealed with the current key; 1 with a clear message otherwise.
import type { KeyRotationReport } from '../src/accounts/account-service.js';
import { AccountService, LEGACY_KEY_LABEL } from '../src/accounts/account-service.js';
import { KeyRing } from '../src/crypto/key-ring.js';
import { runOperatorScript } from './lib/operator-script.js';

function usageLine(report: KeyRotationReport, ring: KeyRing): string {
  const entries = Object.entries(report.usage).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return 'no accounts';
  const role = (id: string) =>
    id === ring.current.id ? 'current' : id === LEGACY_KEY_LABEL ? 'format without key id' : ring.byId(id) ? 'previous' : 'not in ENCRYPTION_KEYS';
  return entries.map(([id, n]) => `${id} (${role(id)}): ${n}`).join(', ');
}

runOperatorScript('rotate-keys', async (config, conn) => {
  const ring = new KeyRing(config.encryptionKeys);
  const report = await new AccountService(conn, ring).rotateKeys();
  const summary =
    `current key ${ring.current.id}; re-sealed ${report.resealed} of ${report.examined} account(s) not on it` +
    (report.changedMeanwhile ? `, ${report.changedMeanwhile} changed meanwhile (left as written)` : '') +
    `; accounts per key: ${usageLine(report, ring)}`;
  const stillOld = Object.entries(report.usage).filter(([id, n]) => id !== ring.current.id && n > 0);
  if (report.failed.length > 0) {
    const first = report.failed[0];
    throw new Error(`${report.failed.length} account(s) could not be opened with any key in ENCRYPTION_KEYS (first: account ${first?.accountId}: ${first?.reason}); ${summary}`);
  }
  if (stillOld.length > 0) throw new Error(`some accounts are still sealed with an old key (changed while this ran? run it again); ${summary}`);
  return summary;
});
