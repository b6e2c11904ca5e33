// The actions a ceremony script may name. The engine implements each one; a script naming anything else is
// refused when it is loaded, long before a token is touched. To add an action: add it here (with its
// properties), implement it in the engine, and document it in docs/ceremony-scripts.md.

export interface ActionSpec {
  /** One line for the docs and the UI. */
  summary: string;
  /** The action talks to the token (the engine writes intent and result entries around it). */
  touchesToken: boolean;
  /** Cannot be undone: the step must carry a `confirm` word the administrator types. */
  irreversible: boolean;
  /** never: a quorum makes no sense here; optional: the script decides; required: the step must declare `approvals: quorum`. */
  quorum: 'never' | 'optional' | 'required';
}

export const ACTIONS = {
  // Any ceremony
  announce: { summary: 'Read the instructions to the room and record that they were read.', touchesToken: false, irreversible: false, quorum: 'optional' },
  'record-participants': { summary: 'Record who is present: administrator, custodians, witnesses.', touchesToken: false, irreversible: false, quorum: 'never' },
  'check-airgap': { summary: 'Check that no network interface is up and record the result.', touchesToken: false, irreversible: false, quorum: 'never' },
  'select-token': { summary: 'Choose the token (module, slot, serial) and record what it reports.', touchesToken: true, irreversible: false, quorum: 'never' },
  'quorum-login': { summary: 'Collect M approvals, rebuild the secret, derive the user PIN, log in, wipe.', touchesToken: true, irreversible: false, quorum: 'required' },
  'witness-sign-off': { summary: 'Record each witness confirming what they saw.', touchesToken: false, irreversible: false, quorum: 'optional' },
  'write-chain-head': { summary: 'Sign and record the transcript head with the audit key.', touchesToken: true, irreversible: false, quorum: 'optional' },
  'export-bundle': { summary: 'Write the transcript bundle to removable media and read it back.', touchesToken: false, irreversible: false, quorum: 'optional' },
  logout: { summary: 'Log out of the token and close the session.', touchesToken: true, irreversible: false, quorum: 'never' },
  // init-token
  'enroll-custodians': { summary: 'Record the custodians, the threshold and each custodian\'s approval public key.', touchesToken: false, irreversible: false, quorum: 'never' },
  'generate-secret': { summary: 'Generate the ceremony secret and split it M-of-N; nothing is shown.', touchesToken: false, irreversible: false, quorum: 'never' },
  'init-token': { summary: 'Initialize the token with the chosen label and the SO PIN derived from the secret; erases the token.', touchesToken: true, irreversible: true, quorum: 'never' },
  'set-pins': { summary: 'Set the user PIN derived from the secret.', touchesToken: true, irreversible: false, quorum: 'never' },
  'generate-audit-key': { summary: 'Generate the transcript audit key pair inside the token.', touchesToken: true, irreversible: false, quorum: 'never' },
  'write-genesis': { summary: 'Write the first transcript entry: the token, the audit key, the script hash.', touchesToken: true, irreversible: false, quorum: 'never' },
  'distribute-shares': { summary: 'Hand out the shares one custodian at a time (share file and share sheet).', touchesToken: false, irreversible: false, quorum: 'never' },
  'prove-subsets': { summary: 'Show that every M-subset of shares rebuilds the secret, without revealing it.', touchesToken: false, irreversible: false, quorum: 'never' },
  'join-domain': { summary: 'M custodians of an existing security domain present their shares; the secret is rebuilt and checked against the domain\'s enrolment, and no share is handed out.', touchesToken: false, irreversible: false, quorum: 'never' },
  // enrol-token
  'check-current-pins': { summary: "Log in with the PINs the room brought (then out) and probe, with throw-away objects, that the token takes the audit key and the chain head; nothing changes.", touchesToken: true, irreversible: false, quorum: 'never' },
  'change-pins': { summary: "Replace the token's user PIN (and SO PIN, when given) with PINs derived from the secret (C_SetPIN); the PINs the room brought stop working.", touchesToken: true, irreversible: true, quorum: 'never' },
  // kms-import
  'load-import-parameters': { summary: 'Read the KMS import parameters (wrapping public key, import token) from removable media.', touchesToken: false, irreversible: false, quorum: 'never' },
  'generate-key': { summary: 'Generate the key material inside the token (non-extractable except by wrapping).', touchesToken: true, irreversible: false, quorum: 'optional' },
  'wrap-key': { summary: 'Wrap the key inside the token under the KMS wrapping key.', touchesToken: true, irreversible: false, quorum: 'optional' },
  'export-wrapped-key': { summary: 'Write the wrapped key and import token to removable media.', touchesToken: false, irreversible: false, quorum: 'optional' },
  // kms-rewrap
  'find-key': { summary: 'Find the key by its label in the token and check its check value, computed there now, against the one recorded at generation.', touchesToken: true, irreversible: false, quorum: 'optional' },
  // destroy-key
  'identify-key': { summary: 'Find the key by its label, check its CKA_ID and its check value (computed in the token now) against the record of the ceremony that made it, and list every object carrying its label or CKA_ID.', touchesToken: true, irreversible: false, quorum: 'optional' },
  'destroy-key': { summary: 'Destroy every object identify-key listed, then search the token by label and CKA_ID and record that nothing answers.', touchesToken: true, irreversible: true, quorum: 'optional' },
  // audit-token
  'audit-objects': { summary: 'List every object in the token and compare it with the transcript: every key recorded, every recorded key present, every check value recomputed.', touchesToken: true, irreversible: false, quorum: 'optional' },
  // rotate-custodians
  'rotate-pins': { summary: "Replace the token's user PIN, then its SO PIN where the old secret set it, with PINs derived from the new secret (C_SetPIN), and check that the token refuses the old user PIN.", touchesToken: true, irreversible: true, quorum: 'never' },
  'list-domain-tokens': { summary: "List the other tokens on this laptop whose custodians were the old ones (the same domain), which still open with the old shares.", touchesToken: false, irreversible: false, quorum: 'never' },
  // backup-key
  'find-backup-key': { summary: 'Find the key by its label, recompute its check value in the token against the recorded one, and prove on throw-away keys which RFC 5649 wrap the token does exactly.', touchesToken: true, irreversible: false, quorum: 'never' },
  'backup-wrap': { summary: 'Rebuild the domain secret from M shares, import the domain backup key as a session object, wrap the key with it (RFC 5649) inside the token, destroy the backup key.', touchesToken: true, irreversible: false, quorum: 'required' },
  'write-backup': { summary: 'Write the backup folder (wrapped key, manifest, RESTORE.md) to removable media, exclusively, and read it back.', touchesToken: false, irreversible: false, quorum: 'never' },
  // restore-key
  'check-backup': { summary: "Read the backup folder and check it (hashes, domain, label and CKA_ID free, RFC 5649 unwrap proved on throw-away keys) before anything changes.", touchesToken: true, irreversible: false, quorum: 'never' },
  'restore-unwrap': { summary: 'Rebuild the domain secret from M shares, unwrap the key into the token under the domain backup key (a session object, destroyed after), and recompute its check value there; a mismatch destroys it.', touchesToken: true, irreversible: false, quorum: 'required' },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;
export const ACTION_NAMES = Object.keys(ACTIONS) as ActionName[];

export function isActionName(name: unknown): name is ActionName {
  return typeof name === 'string' && Object.hasOwn(ACTIONS, name);
}

export function actionSpec(name: ActionName): ActionSpec {
  return ACTIONS[name];
}
