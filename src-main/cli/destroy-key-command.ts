// `keyceremony destroy-key`: the destroy-key ceremony (ceremonies/destroy-key.yaml) without the app.
import { lifecycleCommand, type LifecycleOverrides } from './token-lifecycle-run.js';
import type { Output } from './output.js';

export const DESTROY_KEY_HELP = `Usage: keyceremony destroy-key --module PATH [--init-parameters STR]
         (--slot N | --token URI) --key-label LABEL --share FILE[:PASSPHRASE_FILE]...
         --bundle-out DIR --witness NAME... [--administrator NAME]
         [--data-dir DIR] [--rehearsal] [--resume CEREMONY_ID] [--json]

Runs the destroy-key ceremony (ceremonies/destroy-key.yaml) without the app, on
a token enrolled by init-token or enrol-token whose transcript is in the data
directory: opens the token with the custodians' shares (and checks its chain
head), finds the key labelled LABEL and the record of the ceremony that made it
(kms-import's generate step, or restore-key), refuses it unless its CKA_ID and
its check value, computed in the token now, equal the recorded ones, destroys
every object carrying its label or CKA_ID, searches the token again and records
that nothing answers. Later ceremonies naming LABEL (kms-rewrap, backup-key,
destroy-key) are refused with the date it was destroyed. The transcript bundle
goes into --bundle-out. Running the command is the room's typed DESTROY.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --key-label LABEL          The label of the key to destroy.
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

Exit status: 0 when the key was destroyed and proven gone, 1 when the ceremony
failed (recorded as aborted, with the reason; nothing was destroyed unless the
transcript says so), 2 for a usage error.
`;

export function destroyKeyCommand(argv: string[], out: Output, overrides: LifecycleOverrides = {}): Promise<number> {
  return lifecycleCommand('destroy-key', DESTROY_KEY_HELP, argv, out, overrides);
}
