// Which RFC 5649 (AES key wrap with padding) mechanism a token offers for the domain backup key, judged by
// what it produces, never by its name alone (FACTS.md: SoftHSM's CKM_AES_KEY_WRAP_PAD is RFC 5649, NSS's
// is RFC 3394 + PKCS#7; NSS's CKM_AES_KEY_WRAP_KWP is RFC 5649, SoftHSM 2.6.1 has none). Each candidate is
// proved on throw-away session objects before the real key is touched, the way kms/exactness.ts proves an
// export: a throw-away wrapping key whose value only this process knows, a throw-away key of the spec,
// wrapped in the token and unwrapped here with node:crypto's RFC 5649 (which checks the length indicator
// and the padding), and the result compared byte for byte. For restore the other way round: material
// wrapped here is unwrapped in the token, wrapped back out, and must come back the same.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { checkMaterial } from '../kms/strict-material.js';
import { AppError } from '../errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { MechanismInfo, ObjectHandle, SessionHandle, SlotRef, WrapMechanism } from '../../hsm/types.js';
import { KEY_SPECS } from '../kms/keyspecs.js';
import type { KmsKeySpec } from '../kms/types.js';
import { tokenWords } from '../kms/token-words.js';
import { YUBIHSM_MODULE_PREFIX } from '../../hsm/yubihsm/token-layer.js';

export const BACKUP_MECHANISM_ERROR = 'backup-mechanism';

/** The two PKCS#11 mechanisms that may be RFC 5649, in the order they are tried. */
const CANDIDATES = [
  { code: 0x210b, name: 'CKM_AES_KEY_WRAP_KWP', mechanism: { name: 'AES_KEY_WRAP_KWP' } },
  { code: 0x210a, name: 'CKM_AES_KEY_WRAP_PAD', mechanism: { name: 'AES_KEY_WRAP_PAD' } },
] as const satisfies readonly { code: number; name: string; mechanism: WrapMechanism }[];

export type BackupMechanismName = (typeof CANDIDATES)[number]['name'];

export interface Rfc5649Mechanism {
  format: 'rfc5649';
  name: BackupMechanismName;
  mechanism: WrapMechanism;
  /** What the throw-away proof showed, in one sentence for the transcript. */
  proof: string;
  /** Candidates the token lists but that did not produce RFC 5649, with why. */
  refused: { name: string; why: string }[];
}

/** A YubiHSM 2 carries keys with its own wrap key: EXPORT WRAPPED / IMPORT WRAPPED (AES-CCM) under the domain's. */
export interface YubiHsmWrapMechanism {
  format: 'yubihsm-wrapped';
  name: 'YUBIHSM_EXPORT_WRAPPED' | 'YUBIHSM_IMPORT_WRAPPED';
  proof: string;
  refused: { name: string; why: string }[];
}

/** A YubiHSM 2 restoring a PKCS#11 token's backup: UNWRAP_KEY_RSA of wrapped-key-rsa.bin under the domain RSA wrap key. */
export interface YubiHsmRsaUnwrapMechanism {
  format: 'yubihsm-rsa-unwrap';
  name: 'YUBIHSM_UNWRAP_KEY_RSA';
  proof: string;
  refused: { name: string; why: string }[];
}

export type BackupMechanism = Rfc5649Mechanism | YubiHsmWrapMechanism | YubiHsmRsaUnwrapMechanism;

/** Is this slot a YubiHSM 2 (its own wrap keys) rather than a PKCS#11 token (RFC 5649)? */
export const isYubiHsmSlot = (slot: SlotRef) => slot.moduleId.startsWith(YUBIHSM_MODULE_PREFIX);

/** RFC 5649 with node:crypto (OpenSSL's id-aes256-wrap-pad): the independent side of every proof. */
export function rfc5649Wrap(kek: Uint8Array, material: Uint8Array): Buffer {
  const c = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([c.update(material), c.final()]);
}

export function rfc5649Unwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer {
  const d = createDecipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([d.update(wrapped), d.final()]);
}

/** RFC 5649 output length for n bytes: the 8-byte integrity block plus n rounded up to 8. */
export const rfc5649Length = (n: number) => 8 + Math.ceil(n / 8) * 8;

const secretSpecOf = (keySpec: KmsKeySpec) => {
  const info = KEY_SPECS[keySpec];
  if (info.kind === 'aes') return { spec: { type: 'AES', bits: 256 } as const, bytes: 32 };
  if (info.kind === 'hmac') return { spec: { type: 'GENERIC_SECRET', bytes: info.bytes } as const, bytes: info.bytes };
  return undefined;
};

/** Key specs a backup can carry: secret keys, and RSA and ECC private keys (as PKCS#8). */
export function backupSupports(keySpec: KmsKeySpec): boolean {
  return KEY_SPECS[keySpec] !== undefined;
}

export function refuseUnsupportedSpec(keySpec: KmsKeySpec, what: 'back up' | 'restore'): void {
  if (backupSupports(keySpec)) return;
  throw new AppError('backup-key-spec', `${keySpec}: this version cannot ${what} it`, 'Keep the key in its token; re-export it with kms-rewrap when needed. Nothing was changed.');
}

const NODE_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1' } as const;
/** RSA samples taken at most before giving up on telling whether the token pads (as kms/exactness.ts). */
const MAX_RSA_SAMPLES = 6;

/** The uncompressed public point (04||x||y) of an EC SubjectPublicKeyInfo. */
export function ecPublicPoint(spki: Uint8Array): Buffer {
  const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' }) as { x?: string; y?: string };
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
}

/** The private value of a strictly parsed PKCS#8 (RSA: n and d; EC: d), to compare two encodings of one key. */
function privateValue(der: Uint8Array): string {
  const jwk = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }) as { n?: string; d?: string; crv?: string };
  return `${jwk.crv ?? ''}:${jwk.n ?? ''}:${jwk.d ?? ''}`;
}

/** One candidate proved for a private key spec: exact PKCS#8 out of the token (wrap), the same key back out after an unwrap (unwrap). */
async function provePrivate(layer: TokenLayer, session: SessionHandle, mechanism: WrapMechanism, keySpec: KmsKeySpec, purpose: 'wrap' | 'unwrap'): Promise<string> {
  const info = KEY_SPECS[keySpec];
  if (info.kind !== 'rsa' && info.kind !== 'ec') throw new Error(`${keySpec} is not a private key`);
  const privateTemplate = { label: 'kc-probe-backup-key', id: new Uint8Array(), token: false, private: true, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false };
  const sample = async (): Promise<{ bytes: number; derLength: number; fixed: boolean }> => {
    const kek = randomBytes(32);
    const made: ObjectHandle[] = [];
    try {
      made.push(await throwAwayKek(layer, session, kek));
      let original: Buffer | undefined;
      let wrapped: Uint8Array;
      if (purpose === 'wrap') {
        const pair = await layer.generateKeyPair(session, info.kind === 'rsa' ? { type: 'RSA', bits: info.bits } : { type: 'EC', curve: info.curve }, { label: 'kc-probe-backup-key', id: new Uint8Array(), token: false, encrypt: false, verify: false, wrap: false }, privateTemplate);
        made.push(pair.privateKey, pair.publicKey);
        wrapped = await layer.wrapKey(session, mechanism, made[0] as ObjectHandle, made[1] as ObjectHandle);
      } else {
        if (!layer.unwrapKey) throw new AppError(BACKUP_MECHANISM_ERROR, 'this token driver cannot unwrap a key', 'Use a PKCS#11 token that offers C_UnwrapKey.');
        // A throw-away key made here (OpenSSL's PKCS#8), unwrapped in the token and wrapped back out.
        const k = info.kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: info.bits }) : generateKeyPairSync('ec', { namedCurve: NODE_CURVE[info.curve] });
        const pkcs8 = k.privateKey.export({ format: 'der', type: 'pkcs8' });
        original = pkcs8;
        const ec = info.kind === 'ec' ? { ecParams: Buffer.from(info.oidDer, 'hex'), publicPoint: ecPublicPoint(k.publicKey.export({ format: 'der', type: 'spki' })) } : {};
        const restored = await layer.unwrapKey(session, mechanism, made[0] as ObjectHandle, rfc5649Wrap(kek, pkcs8), { kind: 'private', keyType: info.kind === 'rsa' ? 'RSA' : 'EC', template: privateTemplate, ...ec });
        made.push(restored);
        wrapped = await layer.wrapKey(session, mechanism, made[0] as ObjectHandle, restored);
      }
      let back: Buffer;
      try {
        back = rfc5649Unwrap(kek, wrapped);
      } catch {
        throw new Error('its output does not unwrap as RFC 5649 (integrity check or padding refused by OpenSSL)');
      }
      const v = checkMaterial(keySpec, back);
      if (!v.ok) throw new Error(`a throw-away ${keySpec} key came out as material a strict PKCS#8 parser refuses (${v.reason ?? 'not exact'})`);
      if (original && privateValue(back) !== privateValue(original)) throw new Error(`a throw-away ${keySpec} key unwrapped into the token came back out as another key`);
      return { bytes: v.bytes, derLength: v.derLength ?? v.bytes, fixed: v.fixedLength === true };
    } finally {
      kek.fill(0);
      for (const h of made.reverse()) await layer.destroyObject(session, h).catch(() => undefined);
    }
  };
  const what = purpose === 'wrap' ? `a throw-away ${keySpec} key wrapped in the token unwrapped here (RFC 5649, OpenSSL) to exact PKCS#8` : `a throw-away ${keySpec} key made here unwrapped in the token and came back out as the same key in exact PKCS#8`;
  let s = await sample();
  if (s.derLength % 8 !== 0 || s.fixed) return `${what} (${s.derLength} bytes)`;
  // RSA at a length that cannot show zero padding: sample until one can (as kms/exactness.ts).
  for (let i = 1; i < MAX_RSA_SAMPLES; i += 1) {
    s = await sample();
    if (s.derLength % 8 !== 0) return `${what} (one of ${s.derLength} bytes, not a multiple of 8, shows no padding)`;
  }
  throw new Error(`${MAX_RSA_SAMPLES} throw-away ${keySpec} keys all encoded to a multiple of 8 bytes, so whether the token pads could not be told`);
}

const throwAway = (label: string) => ({ label, id: new Uint8Array(), token: false, private: true, sensitive: true, encrypt: false, decrypt: false, sign: false, verify: false, derive: false });

/** The throw-away wrapping key: random bytes only this process knows, as a session object. */
async function throwAwayKek(layer: TokenLayer, session: SessionHandle, kek: Uint8Array): Promise<ObjectHandle> {
  if (!layer.createSecretKey) throw new AppError(BACKUP_MECHANISM_ERROR, 'this token driver cannot create a key from a value', 'Use a PKCS#11 token for backup and restore (a YubiHSM 2 uses its own wrap keys).');
  return layer.createSecretKey(session, { type: 'AES', bits: 256 }, kek, { ...throwAway('kc-probe-backup-kek'), extractable: false, wrap: true, unwrap: true });
}

/** One candidate proved for wrapping (backup) or unwrapping (restore) a key of the spec. */
async function prove(layer: TokenLayer, session: SessionHandle, mechanism: WrapMechanism, keySpec: KmsKeySpec, purpose: 'wrap' | 'unwrap'): Promise<string> {
  const secret = secretSpecOf(keySpec);
  if (!secret) return provePrivate(layer, session, mechanism, keySpec, purpose);
  const kek = randomBytes(32);
  const material = randomBytes(secret.bytes);
  const made: ObjectHandle[] = [];
  try {
    made.push(await throwAwayKek(layer, session, kek));
    const template = { ...throwAway('kc-probe-backup-key'), extractable: true, wrap: false, unwrap: false };
    if (purpose === 'wrap') {
      if (!layer.createSecretKey) throw new Error('no createSecretKey');
      made.push(await layer.createSecretKey(session, secret.spec, material, template));
    } else {
      if (!layer.unwrapKey) throw new AppError(BACKUP_MECHANISM_ERROR, 'this token driver cannot unwrap a key', 'Use a PKCS#11 token that offers C_UnwrapKey.');
      made.push(await layer.unwrapKey(session, mechanism, made[0] as ObjectHandle, rfc5649Wrap(kek, material), { kind: 'secret', spec: secret.spec, template }));
    }
    const wrapped = await layer.wrapKey(session, mechanism, made[0] as ObjectHandle, made[1] as ObjectHandle);
    if (wrapped.length !== rfc5649Length(secret.bytes)) throw new Error(`it wrapped ${secret.bytes} bytes into ${wrapped.length}, and RFC 5649 gives ${rfc5649Length(secret.bytes)}`);
    let back: Buffer;
    try {
      back = rfc5649Unwrap(kek, wrapped);
    } catch {
      throw new Error('its output does not unwrap as RFC 5649 (integrity check or padding refused by OpenSSL)');
    }
    if (!back.equals(material)) throw new Error(`its output unwraps to ${back.length} bytes that are not the throw-away key`);
    return purpose === 'wrap'
      ? `a throw-away ${keySpec} key wrapped in the token unwrapped here (RFC 5649, OpenSSL) to exactly its ${secret.bytes} bytes`
      : `a throw-away ${keySpec} key wrapped here (RFC 5649, OpenSSL) unwrapped in the token and wrapped back to exactly its ${secret.bytes} bytes`;
  } finally {
    kek.fill(0);
    material.fill(0);
    for (const h of made.reverse()) await layer.destroyObject(session, h).catch(() => undefined);
  }
}

/**
 * The RFC 5649 mechanism this token wraps (backup) or unwraps (restore) `keySpec` with, proved on throw-away
 * session objects in the logged-in `session`. Refuses in words when the token offers none that works.
 */
export async function chooseBackupMechanism(layer: TokenLayer, slot: SlotRef, session: SessionHandle, keySpec: KmsKeySpec, purpose: 'wrap' | 'unwrap'): Promise<BackupMechanism> {
  refuseUnsupportedSpec(keySpec, purpose === 'wrap' ? 'back up' : 'restore');
  if (isYubiHsmSlot(slot)) {
    // The device's own wrap: nothing to choose. The restore proves the material by the check value the target
    // device recomputes (restore-key), as a YubiHSM's wrapped object carries a random nonce and never repeats.
    if (!layer.exportUnderDomainWrapKey || !layer.importUnderDomainWrapKey) {
      throw new AppError(BACKUP_MECHANISM_ERROR, 'this YubiHSM driver cannot export or import under a wrap key', 'Use a version of the app whose YubiHSM driver drives EXPORT WRAPPED / IMPORT WRAPPED. Nothing was changed.');
    }
    return purpose === 'wrap'
      ? { format: 'yubihsm-wrapped', name: 'YUBIHSM_EXPORT_WRAPPED', proof: 'the device exports the object under the domain wrap key (AES-256-CCM), which exists in it only for that one command', refused: [] }
      : { format: 'yubihsm-wrapped', name: 'YUBIHSM_IMPORT_WRAPPED', proof: 'the device imports the object under the domain wrap key (AES-256-CCM), which exists in it only for that one command; the check value recomputed in it decides', refused: [] };
  }
  const mechs: MechanismInfo[] = await layer.listMechanisms(slot);
  const listed = CANDIDATES.filter((c) => mechs.some((m) => m.code === c.code && m.flags[purpose]));
  const name = await tokenWords(layer, slot);
  if (listed.length === 0) {
    throw new AppError(
      BACKUP_MECHANISM_ERROR,
      `${name} offers neither CKM_AES_KEY_WRAP_KWP nor CKM_AES_KEY_WRAP_PAD for ${purpose === 'wrap' ? 'wrapping' : 'unwrapping'}, so it cannot ${purpose === 'wrap' ? 'write' : 'read'} an RFC 5649 backup`,
      'Use a token that offers AES key wrap with padding (RFC 5649): SoftHSM 2, NSS softoken, most HSMs. Nothing was changed.',
    );
  }
  const refused: { name: string; why: string }[] = [];
  for (const c of listed) {
    try {
      const proof = await prove(layer, session, c.mechanism, keySpec, purpose);
      return { format: 'rfc5649', name: c.name, mechanism: c.mechanism, proof, refused };
    } catch (error) {
      if (error instanceof AppError) throw error;
      refused.push({ name: c.name, why: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new AppError(
    BACKUP_MECHANISM_ERROR,
    `${name} lists ${listed.map((c) => c.name).join(' and ')}, but none produced RFC 5649 on a throw-away ${keySpec} key: ${refused.map((r) => `${r.name}: ${r.why}`).join('; ')}`,
    'Use a token whose AES key wrap with padding is RFC 5649 and exact (NSS softoken: CKM_AES_KEY_WRAP_KWP; SoftHSM 2.6.1: CKM_AES_KEY_WRAP_PAD, exact for secret keys and P-384 only, as it pads other private keys). Nothing was changed.',
  );
}
