// Key material for a KMS import, generated inside the token and checked after the fact: the token's own
// answers (CKA_LOCAL, CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, size, curve) are read back and
// compared with what we asked for, because a template is a request, not a guarantee. A key that fails is
// destroyed, never left for someone to use.
import { createHash, createPublicKey } from 'node:crypto';
import { AppError } from '../errors.js';
import { TokenError } from '../../hsm/errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { AttributeName, AttributeValue, KeyPairSpec, MechanismInfo, ObjectHandle, SessionHandle, SlotRef } from '../../hsm/types.js';
import { LABEL_OBJECT_ID } from '../../hsm/yubihsm/token-layer-map.js';
import { YUBIHSM_MODULE_PREFIX } from '../../hsm/yubihsm/token-layer.js';
import { aesCheckValueMethod, type AesCheckValueMethod } from './kcv.js';
import { CKM_CODES, KEY_SPECS } from './keyspecs.js';
import { tokenPublicKeySpki } from './spki.js';
import { tokenWords } from './token-words.js';
import type { KmsKeySpec } from './types.js';

export const KEYGEN_ERROR = 'KMS_KEYGEN';
export const KEY_CHECK_ERROR = 'KMS_KEY_CHECK_FAILED';

/** CKK_* values (PKCS#11 2.40). */
const CKK = { RSA: 0x0, EC: 0x3, GENERIC_SECRET: 0x10, AES: 0x1f } as const;

/** What the transcript records about a generated key: plain data, no handles that outlive the session. */
export interface GeneratedKmsKey {
  keySpec: KmsKeySpec;
  label: string;
  /**
   * CKA_ID, hex, as the token kept it (read back after generation): we ask for 16 bytes from the token's
   * RNG; a YubiHSM keeps its 2-byte object id instead.
   */
  idHex: string;
  /** Handles for this session: the secret or private key, and the public key of a pair. */
  handle: ObjectHandle;
  publicHandle?: ObjectHandle;
  /** The attributes read back and checked, as plain data (byte values in hex). */
  attributes: Record<string, boolean | number | string | null>;
  /** Checks the caller waived for this token, each with the reason: for the transcript. */
  waivers: string[];
  /** Public half of a key pair, DER SubjectPublicKeyInfo. */
  publicKeySpkiDer?: Uint8Array;
  publicKeySpkiSha256?: string;
}

function names(mechs: readonly MechanismInfo[]): string {
  return mechs.length === 0 ? 'none' : [...new Set(mechs.map((m) => m.name))].join(', ');
}

/**
 * Before anything is generated: can this token make and check this key spec? From the mechanism list,
 * plus, for secp256k1 (which a mechanism list cannot show), a throw-away session key pair.
 */
export async function checkTokenCanGenerate(layer: TokenLayer, slot: SlotRef, keySpec: KmsKeySpec, session?: SessionHandle, label?: string): Promise<void> {
  const info = KEY_SPECS[keySpec];
  if (label !== undefined && slot.moduleId.startsWith(YUBIHSM_MODULE_PREFIX) && Buffer.byteLength(label, 'utf8') > YUBIHSM_LABEL_BYTES) {
    throw new AppError(
      KEYGEN_ERROR,
      `parameters.keyLabel: '${label}' is ${Buffer.byteLength(label, 'utf8')} bytes, and a YubiHSM 2 object label holds at most ${YUBIHSM_LABEL_BYTES}`,
      `Abort this ceremony and start it again with a key label of at most ${YUBIHSM_LABEL_BYTES} bytes; nothing was generated.`,
    );
  }
  const mechs = await layer.listMechanisms(slot);
  const has = (code: number, flag: keyof MechanismInfo['flags']) => mechs.find((m) => m.code === code && m.flags[flag]);
  const name = await tokenWords(layer, slot);
  const refuse = (what: string, remedy: string): never => {
    throw new AppError(KEYGEN_ERROR, `${name} cannot generate ${keySpec}: ${what}`, remedy);
  };
  const relevant = mechs.filter((m) => m.flags.generate || m.flags.generateKeyPair);
  if (info.kind === 'aes') {
    if (!has(CKM_CODES.AES_KEY_GEN, 'generate')) refuse(`it does not offer CKM_AES_KEY_GEN (it offers ${names(relevant)}).`, 'Use a token that generates AES keys.');
    if (aesCheckValueMethod(mechs) === undefined) {
      refuse('it offers neither CKM_AES_CMAC (sign) nor CKM_AES_ECB (encrypt), so no key check value can be computed in it.', 'Use a token that offers CKM_AES_CMAC.');
    }
  } else if (info.kind === 'hmac') {
    // Key sizes of these two mechanisms are in bytes. NSS generates generic secrets of at most 32 bytes;
    // SoftHSM's CKM_SHA256_HMAC takes keys of at least 32 bytes (so no HMAC_224 check value there).
    const gen = has(CKM_CODES.GENERIC_SECRET_KEY_GEN, 'generate');
    if (!gen) refuse(`it does not offer CKM_GENERIC_SECRET_KEY_GEN (it offers ${names(relevant)}).`, 'Use a token that generates generic secret keys.');
    else if (gen.maxKeySize > 0 && (info.bytes < gen.minKeySize || info.bytes > gen.maxKeySize)) {
      refuse(`its CKM_GENERIC_SECRET_KEY_GEN makes keys of ${gen.minKeySize}-${gen.maxKeySize} bytes, and ${keySpec} is ${info.bytes}.`, 'Choose another HMAC key spec or another token.');
    }
    const mac = has(CKM_CODES.SHA256_HMAC, 'sign');
    if (!mac) refuse('it does not offer CKM_SHA256_HMAC, which the check value needs.', 'Use a token that offers CKM_SHA256_HMAC.');
    else if (mac.maxKeySize > 0 && (info.bytes < mac.minKeySize || info.bytes > mac.maxKeySize)) {
      refuse(
        `its CKM_SHA256_HMAC takes keys of ${mac.minKeySize}-${mac.maxKeySize} bytes, so the check value (HMAC-SHA-256 for every HMAC key spec) cannot be computed for a ${info.bytes}-byte key.`,
        'Choose another HMAC key spec or another token.',
      );
    }
  } else if (info.kind === 'rsa') {
    const m = has(CKM_CODES.RSA_PKCS_KEY_PAIR_GEN, 'generateKeyPair');
    if (!m) refuse(`it does not offer CKM_RSA_PKCS_KEY_PAIR_GEN (it offers ${names(relevant)}).`, 'Use a token that generates RSA keys.');
    else if (m.maxKeySize > 0 && m.maxKeySize < info.bits) refuse(`its RSA keys are at most ${m.maxKeySize} bits.`, 'Choose a smaller RSA key spec or another token.');
  } else {
    const m = has(CKM_CODES.EC_KEY_PAIR_GEN, 'generateKeyPair');
    if (!m) refuse(`it does not offer CKM_EC_KEY_PAIR_GEN (it offers ${names(relevant)}).`, 'Use a token that generates EC keys.');
    else if (m.maxKeySize > 0 && (info.fieldBits > m.maxKeySize || info.fieldBits < m.minKeySize)) {
      refuse(`its EC keys are ${m.minKeySize}-${m.maxKeySize} bits.`, 'Choose another curve or another token.');
    }
    if (info.curve === 'secp256k1') await probeSecp256k1(layer, slot, session, refuse);
  }
}

/**
 * A session key pair, destroyed at once: the only way to ask a token about a curve. Public objects
 * (CKA_PRIVATE false), so it works before any login: the parameters step runs it before the quorum opens
 * the token, and SoftHSM refuses a private secp256k1 pair then (CKR_USER_NOT_LOGGED_IN). A token that
 * still answers CKR_USER_NOT_LOGGED_IN cannot be asked yet: generate-key asks again after the login.
 */
async function probeSecp256k1(layer: TokenLayer, slot: SlotRef, given: SessionHandle | undefined, refuse: (what: string, remedy: string) => never): Promise<void> {
  let session = given;
  try {
    session ??= (await layer.openSession(slot, { readWrite: true })).session;
    const pair = await layer.generateKeyPair(
      session,
      { type: 'EC', curve: 'secp256k1' },
      { label: 'kc-probe-secp256k1', id: new Uint8Array(), token: false, encrypt: false, verify: false, wrap: false },
      { label: 'kc-probe-secp256k1', id: new Uint8Array(), token: false, private: false, sensitive: true, extractable: false, decrypt: false, sign: false, unwrap: false, derive: false },
    );
    await layer.destroyObject(session, pair.privateKey).catch(() => undefined);
    await layer.destroyObject(session, pair.publicKey).catch(() => undefined);
  } catch (e) {
    // A token that makes nothing before a login (a YubiHSM) is asked again by generate-key, after the login.
    if (e instanceof TokenError && e.code === 'CKR_USER_NOT_LOGGED_IN') return;
    refuse(`it refused a secp256k1 key pair (${e instanceof TokenError ? e.code : String(e)}).`, 'Choose ECC_NIST_P256 or another token.');
  } finally {
    if (given === undefined && session !== undefined) await layer.closeSession(session).catch(() => undefined);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function plain(a: Record<string, AttributeValue>): Record<string, boolean | number | string | null> {
  const out: Record<string, boolean | number | string | null> = {};
  for (const [k, v] of Object.entries(a)) out[k] = v instanceof Uint8Array ? hex(v) : v;
  return out;
}

const COMMON: AttributeName[] = ['CKA_CLASS', 'CKA_KEY_TYPE', 'CKA_TOKEN', 'CKA_PRIVATE', 'CKA_LOCAL', 'CKA_SENSITIVE', 'CKA_ALWAYS_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_NEVER_EXTRACTABLE'];

/**
 * Generate persistent, private, sensitive key material that is extractable only so that it can be wrapped.
 * Secret keys may sign (the check value is a MAC computed with them); nothing may encrypt, decrypt, wrap,
 * unwrap or derive: the material's use is in KMS, not here.
 */
export interface KeyCheckWaivers {
  /**
   * Accept CKA_LOCAL != true, with the reason the room was given. Only for tokens known not to report it
   * (NSS softoken 3.87 answers false even for keys it just generated); the waiver is part of the result, so
   * the transcript says the evidence was missing rather than pretending it was there.
   */
  CKA_LOCAL?: string;
}

/**
 * A new key's CKA_ID, from the token's RNG. A YubiHSM names objects by a 16-bit id and keeps only that as
 * CKA_ID, so there the id is two bytes (not a value the device reserves): the id recorded before generation
 * is then the id the key really has, and a resumed ceremony can find it.
 */
const YUBIHSM_LABEL_BYTES = 40;

export async function newKeyCkaId(layer: TokenLayer, session: SessionHandle, moduleId: string): Promise<Uint8Array> {
  if (!moduleId.startsWith(YUBIHSM_MODULE_PREFIX)) return layer.random(session, 16);
  for (;;) {
    const id = await layer.random(session, 2);
    const v = ((id[0] as number) << 8) | (id[1] as number);
    if (v !== 0 && v !== 0xffff && v !== LABEL_OBJECT_ID) return id;
  }
}

export async function generateKmsKey(
  layer: TokenLayer,
  session: SessionHandle,
  keySpec: KmsKeySpec,
  label: string,
  waivers: KeyCheckWaivers = {},
  /** The CKA_ID to ask for; a ceremony records it in its intent before generating, so a resume can find the key. */
  requestedId?: Uint8Array,
  /**
   * AES only: the check value method this token allows (aesCheckValueMethod). An AES-ECB check value needs
   * CKA_ENCRYPT, so only a key for such a token (one without CMAC) may encrypt.
   */
  aesCheckValue: AesCheckValueMethod = 'AES-CMAC-ZERO-BLOCK',
): Promise<GeneratedKmsKey> {
  if (label.trim() === '' || Buffer.byteLength(label, 'utf8') > 64) {
    throw new AppError(KEYGEN_ERROR, `label ${JSON.stringify(label)} must be 1-64 bytes of text.`, 'Choose a short label that names the KMS key, e.g. "kms-prod-payments-2026".');
  }
  const info = KEY_SPECS[keySpec];
  const id = requestedId ?? (await layer.random(session, 16));
  const created: ObjectHandle[] = [];
  try {
    let handle: ObjectHandle;
    let publicHandle: ObjectHandle | undefined;
    if (info.kind === 'aes' || info.kind === 'hmac') {
      handle = await layer.generateSecretKey(session, info.kind === 'aes' ? { type: 'AES', bits: 256 } : { type: 'GENERIC_SECRET', bytes: info.bytes }, {
        label,
        id,
        token: true,
        private: true,
        sensitive: true,
        extractable: true,
        encrypt: info.kind === 'aes' && aesCheckValue === 'AES-ECB-ZERO-BLOCK',
        decrypt: false,
        sign: true,
        verify: false,
        wrap: false,
        unwrap: false,
        derive: false,
      });
      created.push(handle);
    } else {
      const spec: KeyPairSpec = info.kind === 'rsa' ? { type: 'RSA', bits: info.bits } : { type: 'EC', curve: info.curve };
      const pair = await layer.generateKeyPair(
        session,
        spec,
        { label, id, token: true, encrypt: false, verify: false, wrap: false },
        { label, id, token: true, private: true, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false },
      );
      created.push(pair.privateKey, pair.publicKey);
      handle = pair.privateKey;
      publicHandle = pair.publicKey;
    }

    return await checkKmsKey(layer, session, keySpec, label, waivers, handle, publicHandle, hex(id));
  } catch (e) {
    for (const h of created) await layer.destroyObject(session, h).catch(() => undefined);
    throw e;
  }
}

/**
 * Read a key's attributes back and compare them with what generation asks for; throws KEY_CHECK_ERROR
 * listing every difference. Used right after generation, and when a resumed ceremony adopts the key an
 * interrupted attempt generated (the same checks, so an adopted key is held to the same standard).
 */
async function checkKmsKey(
  layer: TokenLayer,
  session: SessionHandle,
  keySpec: KmsKeySpec,
  label: string,
  waivers: KeyCheckWaivers,
  handle: ObjectHandle,
  publicHandle: ObjectHandle | undefined,
  requestedIdHex: string,
  adopted = false,
): Promise<GeneratedKmsKey> {
  const info = KEY_SPECS[keySpec];
  const extra: AttributeName[] = info.kind === 'aes' || info.kind === 'hmac' ? ['CKA_VALUE_LEN', 'CKA_VALUE'] : info.kind === 'ec' ? ['CKA_EC_PARAMS'] : ['CKA_MODULUS'];
  const a = await layer.getAttributes(session, handle, [...COMMON, ...extra]);
  const failures: string[] = [];
  const expect = (name: AttributeName, want: AttributeValue, why: string) => {
    const got = (a as Record<string, AttributeValue>)[name];
    if (got !== want) failures.push(`${name} is ${JSON.stringify(got instanceof Uint8Array ? hex(got) : got)}, expected ${JSON.stringify(want)} (${why})`);
  };
  expect('CKA_TOKEN', true, 'persistent, for re-export later');
  expect('CKA_PRIVATE', true, 'readable only after login');
  const applied: string[] = [];
  if (waivers.CKA_LOCAL !== undefined && a.CKA_LOCAL !== true) {
    if (waivers.CKA_LOCAL.trim() === '') throw new AppError(KEYGEN_ERROR, 'waivers.CKA_LOCAL needs a reason.', 'Say why this token does not report CKA_LOCAL.');
    applied.push(`CKA_LOCAL is ${JSON.stringify(a.CKA_LOCAL)}, accepted: ${waivers.CKA_LOCAL}`);
  } else expect('CKA_LOCAL', true, 'generated inside the token');
  expect('CKA_SENSITIVE', true, 'the value never leaves in plaintext');
  expect('CKA_ALWAYS_SENSITIVE', true, 'it never was readable');
  expect('CKA_EXTRACTABLE', true, 'so that it can be wrapped');
  let publicKeySpkiDer: Uint8Array | undefined;
  let publicAttrs: Record<string, AttributeValue> = {};
  if (info.kind === 'aes' || info.kind === 'hmac') {
    expect('CKA_KEY_TYPE', info.kind === 'aes' ? CKK.AES : CKK.GENERIC_SECRET, 'the key type asked for');
    expect('CKA_VALUE_LEN', info.bytes, `${keySpec} is ${info.bytes} bytes`);
    // The token must refuse to reveal the value of a sensitive key.
    expect('CKA_VALUE', null, 'the value must be unreadable');
  } else {
    expect('CKA_KEY_TYPE', info.kind === 'rsa' ? CKK.RSA : CKK.EC, 'the key type asked for');
    if (info.kind === 'ec') {
      const p = a.CKA_EC_PARAMS;
      if (!(p instanceof Uint8Array) || hex(p) !== info.oidDer) failures.push(`CKA_EC_PARAMS is ${p instanceof Uint8Array ? hex(p) : JSON.stringify(p)}, expected ${info.oidDer} (${info.curve})`);
    }
    publicAttrs = await layer.getAttributes(session, publicHandle as ObjectHandle, ['CKA_TOKEN', 'CKA_LOCAL', 'CKA_KEY_TYPE', ...(info.kind === 'rsa' ? (['CKA_MODULUS_BITS', 'CKA_PUBLIC_EXPONENT'] as const) : (['CKA_EC_PARAMS'] as const))]);
    if (info.kind === 'rsa') {
      const e = publicAttrs.CKA_PUBLIC_EXPONENT;
      if (!(e instanceof Uint8Array) || BigInt('0x' + (hex(e) || '0')) !== 65537n) failures.push(`public CKA_PUBLIC_EXPONENT is ${e instanceof Uint8Array ? hex(e) : JSON.stringify(e)}, expected 010001`);
    } else if (!(publicAttrs.CKA_EC_PARAMS instanceof Uint8Array) || hex(publicAttrs.CKA_EC_PARAMS) !== info.oidDer) {
      failures.push(`public CKA_EC_PARAMS does not name ${info.curve}`);
    }
    publicKeySpkiDer = await tokenPublicKeySpki(layer, session, publicHandle as ObjectHandle, keySpec);
    if (info.kind === 'rsa') {
      // The modulus length as the SPKI carries it: CKA_MODULUS_BITS alone is the token's word.
      const bits = createPublicKey({ key: Buffer.from(publicKeySpkiDer), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength;
      if (bits !== info.bits) failures.push(`the modulus is ${bits} bits, expected ${info.bits}`);
      // null: not reported (NSS); the SPKI check above is the one that counts.
      if (publicAttrs.CKA_MODULUS_BITS !== null && publicAttrs.CKA_MODULUS_BITS !== info.bits) failures.push(`public CKA_MODULUS_BITS is ${JSON.stringify(publicAttrs.CKA_MODULUS_BITS)}, expected ${info.bits}`);
    }
  }
  if (failures.length > 0) {
    throw new AppError(
      KEY_CHECK_ERROR,
      adopted
        ? `The ${keySpec} key labelled ${JSON.stringify(label)} that the interrupted attempt left in the token failed its checks (it was kept, as evidence): ${failures.join('; ')}.`
        : `The ${keySpec} key the token generated failed its checks and was destroyed: ${failures.join('; ')}.`,
      adopted
        ? 'Do not use it: abandon this ceremony, have the room inspect and destroy the key, and start a new ceremony.'
        : 'Do not use this token for the import; report the token model and firmware with this message.',
    );
  }
  // The CKA_ID the token kept, not the one asked for: a YubiHSM's objects have 2-byte ids.
  const keptId = (await layer.getAttributes(session, handle, ['CKA_ID'])).CKA_ID;
  const idHex = keptId instanceof Uint8Array && keptId.length > 0 ? hex(keptId) : requestedIdHex;
  const attributes = plain(a);
  // Drop the value entry (always null here) and the modulus (public; in the SPKI) from the record.
  delete attributes.CKA_VALUE;
  delete attributes.CKA_MODULUS;
  for (const [k, v] of Object.entries(plain(publicAttrs))) attributes[`public.${k}`] = v;
  return {
    keySpec,
    label,
    idHex,
    handle,
    ...(publicHandle ? { publicHandle } : {}),
    attributes,
    waivers: applied,
    ...(publicKeySpkiDer ? { publicKeySpkiDer, publicKeySpkiSha256: createHash('sha256').update(publicKeySpkiDer).digest('hex') } : {}),
  };
}

/**
 * For a resumed ceremony: the key an interrupted attempt generated, found by its label and accepted only
 * when its CKA_ID is one this ceremony recorded (the id asked for in the intent, or the one the result
 * recorded), then checked exactly as a freshly generated key. Undefined when no key has the label (the
 * attempt never got to generate it). A key with the label but another id is someone else's: refused.
 */
export async function adoptKmsKey(
  layer: TokenLayer,
  session: SessionHandle,
  keySpec: KmsKeySpec,
  label: string,
  waivers: KeyCheckWaivers,
  recordedIdsHex: readonly string[],
): Promise<GeneratedKmsKey | undefined> {
  const info = KEY_SPECS[keySpec];
  const secret = info.kind === 'aes' || info.kind === 'hmac';
  const found = [...(await layer.findAll(session, { class: 'SECRET_KEY', label })), ...(await layer.findAll(session, { class: 'PRIVATE_KEY', label }))];
  if (found.length === 0) return undefined;
  const ids = recordedIdsHex.map((h) => h.toLowerCase());
  const ours: ObjectHandle[] = [];
  for (const h of found) {
    const id = (await layer.getAttributes(session, h, ['CKA_ID'])).CKA_ID;
    if (id instanceof Uint8Array && ids.includes(hex(id))) ours.push(h);
  }
  if (ours.length !== 1 || found.length !== 1) {
    throw new AppError(
      KEYGEN_ERROR,
      `The token holds ${found.length} key${found.length === 1 ? '' : 's'} labelled ${JSON.stringify(label)}, ${ours.length === 0 ? 'none with' : `${ours.length} with`} the CKA_ID this ceremony recorded (${ids.join(' or ') || 'none recorded'}): it cannot tell which key the interrupted attempt generated.`,
      'Abandon this ceremony; have the room inspect the keys with this label (the vendor tool, or pkcs11-tool --list-objects) before starting a new one.',
    );
  }
  const handle = ours[0] as ObjectHandle;
  const keptId = (await layer.getAttributes(session, handle, ['CKA_ID'])).CKA_ID as Uint8Array;
  let publicHandle: ObjectHandle | undefined;
  if (!secret) {
    const pub = await layer.findAll(session, { class: 'PUBLIC_KEY', label, id: keptId });
    if (pub.length !== 1) {
      throw new AppError(KEYGEN_ERROR, `The private key labelled ${JSON.stringify(label)} has ${pub.length} public keys with its CKA_ID, not one.`, 'Abandon this ceremony and have the room inspect the token before starting a new one.');
    }
    publicHandle = pub[0];
  }
  return checkKmsKey(layer, session, keySpec, label, waivers, handle, publicHandle, hex(keptId), true);
}

/** The generated key as JSON-safe data for the transcript: no handles, the SPKI as base64. */
export function keyRecord(key: GeneratedKmsKey): Record<string, unknown> {
  return {
    keySpec: key.keySpec,
    label: key.label,
    id: key.idHex,
    attributes: key.attributes,
    waivers: key.waivers,
    ...(key.publicKeySpkiDer ? { publicKeySpki: Buffer.from(key.publicKeySpkiDer).toString('base64'), publicKeySpkiSha256: key.publicKeySpkiSha256 } : {}),
  };
}
