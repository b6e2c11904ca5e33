// `keyceremony audit-token`: the audit-token ceremony (ceremonies/audit-token.yaml) without the app.
import { lifecycleCommand, type LifecycleOverrides } from './token-lifecycle-run.js';
import type { Output } from './output.js';

export const AUDIT_TOKEN_HELP = `Usage: keyceremony audit-token --module PATH [--init-parameters STR]
         (--slot N | --token URI) --share FILE[:PASSPHRASE_FILE]...
         --bundle-out DIR --witness NAME... [--administrator NAME]
         [--data-dir DIR] [--rehearsal] [--resume CEREMONY_ID] [--json]

Runs the audit-token ceremony (ceremonies/audit-token.yaml) without the app, on
a token enrolled by init-token or enrol-token whose transcript is in the data
directory: opens the token with the custodians' shares (and checks its chain
head), lists every object in it (class, key type, label, CKA_ID, sensitive,
extractable, local, never-extractable) and compares the list with the
transcript: every key present was made by a recorded ceremony (kms-import,
restore-key), every recorded key not destroyed is present with its recorded
CKA_ID, every check value computed in the token now equals the recorded one,
and the audit key and chain head are the transcript's own. Every difference is
printed in words. The result is recorded in the transcript, whatever it is,
and the transcript bundle goes into --bundle-out.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --share FILE[:PASSPHRASE_FILE]
                             A custodian's share file (and the file holding its
                             passphrase). Repeat until the threshold is reached.
  --bundle-out DIR           Existing folder the transcript bundle is created in.
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --resume CEREMONY_ID       Continue an interrupted ceremony of this kind
                             (keyceremony ceremonies lists them): the shares open
                             the token again and it goes on where it stopped.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the token matches its transcript, 1 when the audit found a
difference (the ceremony still completes and records it) or the ceremony
failed, 2 for a usage error.
`;

export function auditTokenCommand(argv: string[], out: Output, overrides: LifecycleOverrides = {}): Promise<number> {
  return lifecycleCommand('audit-token', AUDIT_TOKEN_HELP, argv, out, overrides);
}
