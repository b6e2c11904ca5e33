import { tokensCommand, TOKENS_HELP } from './tokens-command.js';
import { verifyCommand } from './verify-command.js';
import { initTokenCommand } from './init-token-command.js';
import { enrolTokenCommand } from './enrol-token-command.js';
import { kmsImportCommand } from './kms-import-command.js';
import { kmsRewrapCommand } from './kms-rewrap-command.js';
import { importCommand } from './import-command.js';
import { destroyKeyCommand } from './destroy-key-command.js';
import { auditTokenCommand } from './audit-token-command.js';
import { rotateCustodiansCommand } from './rotate-custodians-command.js';
import { ceremoniesCommand } from './ceremonies-command.js';
import { abandonCommand } from './abandon-command.js';
import { backupKeyCommand } from './backup-key-command.js';
import { restoreKeyCommand } from './restore-key-command.js';
import type { Output } from './output.js';

const MAIN_HELP = `Usage: keyceremony <command> [options]

Air-gapped key ceremonies with hardware tokens. Commands:
  tokens    List PKCS#11 modules, slots and tokens, with the AWS KMS wrapping
            algorithms each token can perform inside itself.
  verify    Verify exported transcript bundles (integrity, and what kind of ceremony they hold).
  init-token  Initialize a token and enrol its M-of-N custodians (writes share
            files and the transcript bundle).
  enrol-token  Enrol M-of-N custodians on a token initialized with its vendor's
            tool (the room brings its PINs; they are replaced by share-derived ones).
  kms-import  Generate key material in an enrolled token, wrap it there for
            AWS KMS import and write the import bundle (M custodians' shares).
  kms-rewrap  Re-export a key kms-import generated, under new import parameters,
            after checking its check value against the recorded one.
  destroy-key  Destroy a key a ceremony made in an enrolled token and prove it
            is gone (M custodians' shares); later ceremonies naming it are refused.
  audit-token  List every object in an enrolled token and compare it with the
            transcript (exit 1 on any difference); the result is recorded.
  rotate-custodians  Replace the M-of-N custodians of an enrolled token (the
            current ones open it; new shares proven before its PINs change).
  backup-key  Back up a key to a folder, wrapped in the token under the security
            domain's backup key (M custodians' shares).
  restore-key  Restore a backed-up key into a token of the same security domain;
            its check value is recomputed there.
  import    Add a token's transcript bundles from another laptop to this one.
  ceremonies  List the past ceremonies of this laptop (as Home does): kind,
            state (completed, aborted, interrupted, abandoned), token, time.
  abandon   Abandon an interrupted ceremony, recorded (as Home's Abandon...).

Run 'keyceremony <command> --help' for a command's options.
`;

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export async function runCli(argv: string[], out: Output): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out.stdout.write(MAIN_HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case 'tokens':
      return tokensCommand(rest, out);
    case 'verify':
      return verifyCommand(rest, out);
    case 'init-token':
      return initTokenCommand(rest, out);
    case 'enrol-token':
      return enrolTokenCommand(rest, out);
    case 'kms-import':
      return kmsImportCommand(rest, out);
    case 'kms-rewrap':
      return kmsRewrapCommand(rest, out);
    case 'destroy-key':
      return destroyKeyCommand(rest, out);
    case 'audit-token':
      return auditTokenCommand(rest, out);
    case 'rotate-custodians':
      return rotateCustodiansCommand(rest, out);
    case 'backup-key':
      return backupKeyCommand(rest, out);
    case 'restore-key':
      return restoreKeyCommand(rest, out);
    case 'import':
      return importCommand(rest, out);
    case 'ceremonies':
      return ceremoniesCommand(rest, out);
    case 'abandon':
      return abandonCommand(rest, out);
    default:
      out.stderr.write(`keyceremony: unknown command '${command}'.\n\n${MAIN_HELP}`);
      return EXIT.usage;
  }
}

export { TOKENS_HELP };
