// The truth table (test/fixtures/audit-truth.ts): each real third-party binary, fetched
// once into ~/.cache/levelgate/truth, audited statically; its answer — the level of the
// code reached without a CPU check — must be the level it was found to run at in pinned
// guests, or the one the entry records with why not. No guest boots here.
import test from 'ava';
import { auditFile } from '../../harness/audit/audit-file.js';
import { judgeFile } from '../../harness/audit/findings.js';
import { levelIndex } from '../../harness/levels/table.js';
import { AUDIT_TRUTH } from '../fixtures/audit-truth.js';
import { fetchTruth } from '../fixtures/truth-fetch.js';

for (const entry of AUDIT_TRUTH) {
  test.serial(`truth: ${entry.id} (${entry.source.name} ${entry.source.version}) runs at ${entry.dynamic.runsAt}; the static audit answers ${entry.staticExpected ?? entry.dynamic.runsAt}`, async (t) => {
    const file = await fetchTruth(entry);
    const audit = auditFile(file, `/${entry.path}`);
    t.is(audit.status, 'audited', audit.reason);
    const answer = audit.unconditional!.level;
    if (entry.whyNot) {
      t.truthy(entry.staticExpected, `${entry.id}: whyNot without staticExpected`);
      t.not(entry.staticExpected, entry.dynamic.runsAt, `${entry.id}: whyNot, yet static and dynamic agree`);
      t.is(answer, entry.staticExpected!, `${entry.id}: the static answer changed (${entry.whyNot})`);
    } else {
      t.is(answer, entry.dynamic.runsAt);
    }
    // Labelled x86_64 (npm's x64, Debian's amd64): a sure finding exactly when the answer is above v1.
    const finding = judgeFile(audit, 'v1');
    const sure = finding?.certainty === 'sure';
    t.is(sure, levelIndex(answer) > 0, finding ? `${finding.certainty} (${finding.basis}): ${finding.why}` : 'no finding');
    t.log(`${entry.id}: reached ${answer}, after a check ${audit.conditional!.level}, unresolved ${audit.unresolved!.level} (${audit.unresolved!.functions} functions, ${audit.unresolved!.bytes} bytes); ${finding ? `${finding.certainty} (${finding.basis})` : 'no finding'}`);
  });
}
