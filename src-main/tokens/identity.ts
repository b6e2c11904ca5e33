// Which token is this? Tokens are known by their audit key, not by label or serial: NSS softoken cannot set
// its label, tpm2-pkcs11 reports serial 0000000000000000 for every token, and two tokens may share a label.
// The audit public key is a CKA_PRIVATE=false token object (token-signer.ts generates it so), so it is read
// in a read-only session without a login. A device whose driver reads nothing before a login (the YubiHSM 2:
// every command runs in an authenticated session) falls back to its serial, which there is the device's own
// factory serial; the audit key is then compared after the login (openAuditKey), as on every token.
import { createHash } from 'node:crypto';
import type { TokenLayer } from '../../hsm/token.js';
import type { SlotRef, TokenInfo } from '../../hsm/types.js';
import { p384SpkiFromEcPoint, P384_EC_PARAMS } from '../transcript/ecdsa.js';
import { sameBytes } from '../transcript/public-key.js';
import { AUDIT_KEY_LABEL } from '../transcript/token-signer.js';

export type TokenIdentity =
  /** The audit public key, read without a login. */
  | { kind: 'audit-key'; spki: string; sha256: string }
  /** No audit key could be read before a login; `why` says what was seen. */
  | { kind: 'none'; why: string };

/** What a chain's genesis entry says about its token. */
export interface GenesisToken {
  serial: string;
  label: string;
  /** The audit key's SPKI DER, base64, as genesis records it. */
  auditKeySpki?: string;
}

export const spkiSha256 = (spkiBase64: string) => createHash('sha256').update(Buffer.from(spkiBase64, 'base64')).digest('hex');

/** Read the token's audit public key without logging in. Never throws for a token that simply has none. */
export async function readTokenIdentity(layer: TokenLayer, slot: SlotRef): Promise<TokenIdentity> {
  let session: string;
  try {
    ({ session } = await layer.openSession(slot, { readWrite: false }));
  } catch (error) {
    return { kind: 'none', why: `no session could be opened (${(error as Error).message})` };
  }
  try {
    const found = await layer.findAll(session, { class: 'PUBLIC_KEY', label: AUDIT_KEY_LABEL });
    if (found.length === 0) return { kind: 'none', why: `no public object labelled ${AUDIT_KEY_LABEL} is visible without a login` };
    if (found.length > 1) return { kind: 'none', why: `${found.length} public objects are labelled ${AUDIT_KEY_LABEL}` };
    const attrs = await layer.getAttributes(session, found[0] as string, ['CKA_EC_PARAMS', 'CKA_EC_POINT']);
    if (!(attrs.CKA_EC_PARAMS instanceof Uint8Array) || !sameBytes(attrs.CKA_EC_PARAMS, P384_EC_PARAMS)) return { kind: 'none', why: 'the audit public key is not on P-384' };
    if (!(attrs.CKA_EC_POINT instanceof Uint8Array)) return { kind: 'none', why: 'the audit public key has no readable CKA_EC_POINT' };
    const spki = Buffer.from(p384SpkiFromEcPoint(attrs.CKA_EC_POINT)).toString('base64');
    return { kind: 'audit-key', spki, sha256: spkiSha256(spki) };
  } catch (error) {
    // E.g. the YubiHSM layer: CKR_USER_NOT_LOGGED_IN for any object lookup before a login.
    return { kind: 'none', why: `the audit key cannot be read before a login (${(error as Error).message})` };
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
}

/** A serial that says nothing about which token it is (tpm2-pkcs11 reports zeros for all of them). */
export const meaninglessSerial = (serial: string) => /^[0\s]*$/.test(serial);

/**
 * Whether the chain whose genesis says `genesis` belongs to this token. With an audit key read from the
 * token, only the key decides (label and serial are ignored). Without one, the token's serial and label
 * must equal the genesis's, and the serial must be a real one; openAuditKey checks the key after the login.
 */
export function chainBelongsTo(genesis: GenesisToken, token: Pick<TokenInfo, 'serial' | 'label'>, identity: TokenIdentity): boolean {
  if (identity.kind === 'audit-key') return genesis.auditKeySpki === identity.spki;
  const serial = token.serial.trim();
  return !meaninglessSerial(serial) && genesis.serial.trim() === serial && genesis.label.trim() === token.label.trim();
}

/** What a genesis entry's data says about its token, or undefined when it names none. */
export function genesisTokenOf(data: unknown): GenesisToken | undefined {
  const d = data as { token?: { serial?: unknown; label?: unknown }; auditKey?: { spki?: unknown } } | undefined;
  if (typeof d?.token?.serial !== 'string' || typeof d.token.label !== 'string') return undefined;
  return { serial: d.token.serial, label: d.token.label, ...(typeof d.auditKey?.spki === 'string' ? { auditKeySpki: d.auditKey.spki } : {}) };
}

/** How a token is named in errors: its label, and its audit key fingerprint when it has one. */
export function describeToken(token: Pick<TokenInfo, 'label'>, identity: TokenIdentity): string {
  return identity.kind === 'audit-key' ? `token '${token.label.trim()}' (audit key SHA-256 ${identity.sha256.slice(0, 16)}…)` : `token '${token.label.trim()}'`;
}
