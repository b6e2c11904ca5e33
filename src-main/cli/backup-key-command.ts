// `keyceremony backup-key`: the backup-key ceremony (ceremonies/backup-key.yaml) without the app.
import type { Output } from './output.js';
import { runKeyBackupCommand, type KeyBackupOverrides } from './key-backup-run.js';

export const BACKUP_KEY_HELP = `Usage: keyceremony backup-key --module PATH [--init-parameters STR]
         (--slot N | --token URI) --key-label LABEL
         --share FILE[:PASSPHRASE_FILE]... --out DIR --bundle-out DIR
         --witness NAME... [--administrator NAME] [--data-dir DIR]
         [--rehearsal] [--json]

Runs the backup-key ceremony (ceremonies/backup-key.yaml) without the app, on a
token enrolled by init-token or enrol-token whose transcript is in the data
directory: opens the token with the custodians' shares (and checks its chain
head), finds the key labelled LABEL that a ceremony generated or restored,
recomputes its check value in the token and refuses it unless it equals the
recorded one, proves on throw-away keys which RFC 5649 wrap the token does
exactly, then (the shares presented again) imports the security domain's
backup key as a session object, wraps the key with it inside the token and
destroys the backup key. Writes DIR/backup-LABEL-CEREMONY/ (wrapped-key.bin,
backup-manifest.json, RESTORE.md), reads it back, and the transcript bundle
into --bundle-out. The backup opens only in a token of the same security
domain (see restore-key), with enough custodians present.

On a YubiHSM 2 (--module yubihsm:usb or yubihsm:http://127.0.0.1:PORT, --slot
its serial) the device's own wrap is used instead: the domain's wrap key is put
into the device for one EXPORT WRAPPED (AES-CCM) and deleted again; such a
backup restores onto another YubiHSM 2 of the same domain only.

Options:
  --module PATH              The PKCS#11 library of the token, or yubihsm:usb /
                             yubihsm:http://127.0.0.1:PORT for a YubiHSM 2.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --key-label LABEL          The label of the key in the token.
  --share FILE[:PASSPHRASE_FILE]
                             A custodian's share file (and the file holding its
                             passphrase). Repeat until the threshold is reached.
                             The same shares approve both quorum steps.
  --out DIR                  Existing folder the backup folder is created in.
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

export const backupKeyCommand = (argv: string[], out: Output, overrides: KeyBackupOverrides = {}) => runKeyBackupCommand('backup-key', BACKUP_KEY_HELP, argv, out, overrides);
