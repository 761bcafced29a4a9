import t from 'tap';
import { formatProbeTable, probeCapabilities, REQUIRED_CAPABILITIES } from '../scripts/lib/db-probe.js';

// Every concurrency test in this suite is only meaningful if the database under it gives
// production MongoDB's guarantees; this file proves that for the database the run uses.
const uri = process.env.MONGODB_URI;

t.test('the test database gives the guarantees production MongoDB gives', { skip: uri ? false : 'MONGODB_URI is not set (run via npm test)' }, async (t) => {
  const rows = await probeCapabilities(uri!);
  t.comment(`capabilities of ${uri!.replace(/\/\/[^@/]*@/, '//***@')}\n${formatProbeTable(rows)}`);
  for (const capability of REQUIRED_CAPABILITIES) {
    const row = rows.find((r) => r.capability === capability);
    t.ok(row?.ok, `${capability}: ${row?.detail ?? 'not probed'}`);
  }
});
