// `keyceremony restore-key`: the restore-key ceremony (ceremonies/restore-key.yaml) without the app.
import type { Output } from './output.js';
import { runKeyBackupCommand, type KeyBackupOverrides } from './key-backup-run.js';

export const RESTORE_KEY_HELP = `Usage: keyceremony restore-key --module PATH [--init-parameters STR]
         (--slot N | --token URI) --backup DIR
         --share FILE[:PASSPHRASE_FILE]... --bundle-out DIR
         --witness NAME... [--administrator NAME] [--data-dir DIR]
         [--rehearsal] [--json]

Runs the restore-key ceremony (ceremonies/restore-key.yaml) without the app, on
a token of the backup's security domain (enrolled by init-token or enrol-token,
or joined with --join-domain-share) whose transcript is in the data directory:
opens the token with the custodians' shares, reads the backup folder DIR and
checks it before anything changes (every file against its hash, the domain
against this token's, the key's label and CKA_ID free in the token, an RFC 5649
unwrap proved on throw-away keys), then (the shares presented again) imports
the domain's backup key as a session object, unwraps the key inside the token
with the recorded label and CKA_ID (persistent, private, sensitive, extractable
only by wrapping), destroys the backup key, and recomputes the key's check
value in the token: unless it equals the recorded one, the restored object is
destroyed and the command fails. The transcript bundle goes to --bundle-out;
kms-rewrap and backup-key then find the restored key by its label.

A backup a YubiHSM 2 wrote restores onto another YubiHSM 2 of the domain
(--module yubihsm:..., --slot its serial): IMPORT WRAPPED under the domain's
wrap key, which is in the device for that one command; the device recomputes
the check value. A YubiHSM backup on a PKCS#11 token, or an RFC 5649 backup on
a YubiHSM, is refused before anything changes. A ceremony resumed after a crash
that followed the unwrap proves the object it left and keeps it, or destroys it
and restores afresh.

Options:
  --module PATH              The PKCS#11 library of the token, or yubihsm:usb /
                             yubihsm:http://127.0.0.1:PORT for a YubiHSM 2.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --backup DIR               The backup folder backup-key wrote.
  --share FILE[:PASSPHRASE_FILE]
                             A custodian's share file (and the file holding its
                             passphrase). Repeat until the threshold is reached.
                             The same shares approve both quorum steps.
  --bundle-out DIR           Existing folder the transcript bundle is created in.
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the ceremony completed, 1 when it failed (it is recorded as
aborted, with the reason), 2 for a usage error.
`;

export const restoreKeyCommand = (argv: string[], out: Output, overrides: KeyBackupOverrides = {}) => runKeyBackupCommand('restore-key', RESTORE_KEY_HELP, argv, out, overrides);
