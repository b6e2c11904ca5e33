import { resolve } from 'node:path';
import { importIntoChain } from '../chains/import-into-chain.js';
import { defaultDataDir } from '../data-dir.js';
import { toErrorData } from '../errors.js';
import { parseStrict, UsageError } from './args.js';
import type { Output } from './output.js';

export const IMPORT_HELP = `Usage: keyceremony import BUNDLE_DIR... [--data-dir DIR] [--json]

Adds the transcript bundles of a token (exported on another laptop) to this
laptop's transcript of that token, so the next ceremony on the token can go on
here. The bundles are verified first and must be signed by the token's audit
key; they must continue this laptop's transcript exactly (a gap or a different
history is refused, and nothing is imported).

Options:
  --data-dir DIR   Where transcripts live (default: $XDG_DATA_HOME/keyceremony
                   or ~/.local/share/keyceremony, the same as the app).
  --json           Print the result as JSON.
  -h, --help       Show this help.

Exit status: 0 imported (or already held), 1 refused, 2 usage error.
`;

export async function importCommand(argv: string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseStrict(argv, { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony import: ${error.message}\n\n${IMPORT_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.stdout.write(IMPORT_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    out.stderr.write(`keyceremony import: name at least one bundle folder.\n\n${IMPORT_HELP}`);
    return 2;
  }
  const dataDir = resolve(typeof values['data-dir'] === 'string' ? values['data-dir'] : defaultDataDir());
  try {
    const r = await importIntoChain(dataDir, positionals.map((p) => resolve(p)));
    out.stdout.write(
      values.json
        ? `${JSON.stringify({ ok: true, ...r }, null, 2)}\n`
        : `Imported ${r.imported} entries into the transcript of ${r.chain} (${r.alreadyHeld} already held); it ends at entry ${r.head?.seq ?? '-'} (${r.head?.hash ?? '-'}).\n`,
    );
    return 0;
  } catch (error) {
    const e = toErrorData(error);
    out.stderr.write(`keyceremony import: ${e.message}${e.remedy ? `\n  ${e.remedy}` : ''}\n`);
    return 1;
  }
}
