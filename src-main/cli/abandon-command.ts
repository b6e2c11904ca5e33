// `keyceremony abandon`: the app's Abandon… on Home, from the command line. The same service function
// records the same entry (an abort with the reason, `abandoned: true`, the last record and what the
// ceremony may have left in the token), so a room with only the command line can end what it started.
import { resolve } from 'node:path';
import { defaultDataDir } from '../data-dir.js';
import { toErrorData } from '../errors.js';
import { parseStrict, UsageError } from './args.js';
import { openRecordsRuntime } from './ceremony-runtime.js';
import type { Output } from './output.js';

export const ABANDON_HELP = `Usage: keyceremony abandon CEREMONY_ID --reason TEXT [--data-dir DIR] [--json]

Abandons an interrupted ceremony (one that 'keyceremony ceremonies' lists as
interrupted and resumable), as Abandon... on the app's Home screen does: the
reason is recorded in the token's transcript as the ceremony's end, with what
it may have left in the token (a generated key stays there until the room
destroys it). The ceremony can then never be resumed, and the next ceremony on
the token may start. No token is touched.

Options:
  --reason TEXT    Why the room abandons it (at least 3 characters; recorded).
  --data-dir DIR   Where transcripts live (default: $XDG_DATA_HOME/keyceremony
                   or ~/.local/share/keyceremony, the same as the app).
  --json           Print the outcome as JSON.
  -h, --help       Show this help.

Exit status: 0 abandoned (recorded), 1 refused (not interrupted, unknown,
running, or its transcript in use), 2 usage error.
`;

export async function abandonCommand(argv: string[], out: Output): Promise<number> {
  const usage = (message: string) => {
    out.stderr.write(`keyceremony abandon: ${message}\n\nRun 'keyceremony abandon --help' for the options.\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseStrict(argv, { reason: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usage(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.stdout.write(ABANDON_HELP);
    return 0;
  }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'name the ceremony to abandon (CEREMONY_ID, as keyceremony ceremonies lists it).' : `name one ceremony, not ${positionals.length}.`);
  const ceremonyId = positionals[0] as string;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(ceremonyId)) return usage(`${ceremonyId}: not a ceremony id (such as kms-import-20261206T101500Z-a1b2c3; see keyceremony ceremonies).`);
  const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
  if (reason.length < 3) return usage('--reason TEXT is required: say why the room abandons the ceremony (at least 3 characters; it is recorded).');
  if (reason.length > 2000) return usage('--reason TEXT: at most 2000 characters.');
  const dataDir = resolve(typeof values['data-dir'] === 'string' ? values['data-dir'] : defaultDataDir());
  const runtime = openRecordsRuntime(dataDir);
  try {
    const r = await runtime.service.abandon(ceremonyId, reason);
    out.stdout.write(values.json ? `${JSON.stringify({ id: r.ceremonyId, state: 'abandoned', reason }, null, 2)}\n` : `Ceremony ${r.ceremonyId} was abandoned; the reason is recorded in its token's transcript.\n`);
    return 0;
  } catch (error) {
    const e = toErrorData(error);
    out.stderr.write(`keyceremony abandon: ${e.message}${e.remedy ? `\n  ${e.remedy}` : ''}\n  Data directory: ${dataDir} ('keyceremony ceremonies --data-dir DIR' lists what it holds).\n`);
    return 1;
  } finally {
    await runtime.close();
  }
}
