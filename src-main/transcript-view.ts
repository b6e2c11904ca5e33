// The verifier's report shaped for the Verify screen: the verdict, the ceremonies and the checks as they
// are, the entries with their data as canonical JSON text (cut for display; the bundle itself is the
// evidence, not this view).
import { canonicalJson } from './transcript/canonical.js';
import type { VerifyReport } from './transcript/verify.js';

const DATA_LIMIT = 4096;

export function verifyView(report: VerifyReport) {
  return {
    ok: report.ok,
    verdict: report.verdict,
    ceremonies: report.ceremonies,
    entryCount: report.entryCount,
    checks: report.checks,
    firstFailure: report.firstFailure,
    bundles: report.bundles,
    entries: report.entries.map((e) => {
      const data = canonicalJson(e.data);
      return {
        seq: e.seq,
        time: e.time,
        ceremonyId: e.ceremonyId,
        step: e.step,
        kind: e.kind,
        actor: e.actor,
        hash: e.hash,
        prev: e.prev,
        data: data.length > DATA_LIMIT ? `${data.slice(0, DATA_LIMIT)}… (${data.length} characters in all)` : data,
      };
    }),
  };
}
