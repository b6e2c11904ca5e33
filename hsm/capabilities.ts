// Which AWS KMS wrapping algorithms a token can perform inside itself. A mechanism list is not enough:
// SoftHSM lists CKM_RSA_PKCS_OAEP but accepts only SHA-1, and CKM_AES_KEY_WRAP_PAD is RFC 5649 on SoftHSM
// but RFC 3394 + PKCS#7 on NSS (FACTS.md). So we probe with throw-away session objects and check the
// outputs with node:crypto, and fall back to the mechanism list only when no session can be opened.
import { constants, createDecipheriv, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { TokenError } from './errors.js';
import type { TokenLayer } from './token.js';
import type { KmsCapability, KmsWrappingAlgorithm, MechanismInfo, SecretKeyTemplate, SlotRef } from './types.js';

export const CKM_RSA_PKCS_OAEP = 0x9;
export const CKM_AES_KEY_WRAP_PAD = 0x210a;
export const CKM_AES_KEY_WRAP_KWP = 0x210b;
export const CKM_RSA_AES_KEY_WRAP = 0x1054;

/** RFC 5649 output for a 32-byte key: 8-byte AIV + 32 bytes (already a multiple of 8, so no padding). */
export const RFC5649_LENGTH_FOR_32 = 40;

export interface WrapProbe {
  ok: boolean;
  /** Length of the wrapped output when ok. */
  length?: number;
  /** For AES wraps: whether the output is RFC 5649 (checked by unwrapping with node:crypto, or by length). */
  rfc5649?: boolean;
  /** The CKR_* code or our own code when not ok. */
  error?: string;
}

export interface CapabilityProbeResults {
  oaep: { 'SHA-1'?: WrapProbe; 'SHA-256'?: WrapProbe };
  kwp?: WrapProbe;
  pad?: WrapProbe;
  /**
   * A throw-away P-256 private key (PKCS#8 length not a multiple of 8) through the RFC 5649 mechanism
   * found: whether it unwrapped to exactly its DER, or with padding after it (SoftHSM 2.6.1).
   */
  privateKey?: { exact: boolean; der: number; unwrapped: number } | { error: string };
}

/** What the composed path does to private keys, for the reason shown on Home. */
function privateKeyNote(p: CapabilityProbeResults['privateKey']): string {
  if (!p) return '';
  if ('error' in p) return ` Private keys were not tried (${p.error}).`;
  if (p.exact) return ` A throw-away P-256 private key came back as exactly its ${p.der}-byte PKCS#8.`;
  return ` But it pads private keys: a throw-away P-256 PKCS#8 of ${p.der} bytes came back as ${p.unwrapped}, which strict receivers reject, so only key specs whose PKCS#8 is a multiple of 8 bytes export exactly (kms-import proves each key spec before generating).`;
}

type Mech = Pick<MechanismInfo, 'code' | 'flags'>;

function listsForWrap(mechs: readonly Mech[], code: number): boolean {
  return mechs.some((m) => m.code === code && m.flags.wrap);
}

const HASH_OF: Record<KmsWrappingAlgorithm, 'SHA-1' | 'SHA-256'> = {
  RSAES_OAEP_SHA_1: 'SHA-1',
  RSAES_OAEP_SHA_256: 'SHA-256',
  RSA_AES_KEY_WRAP_SHA_1: 'SHA-1',
  RSA_AES_KEY_WRAP_SHA_256: 'SHA-256',
};

const RSA_AES_NOTE =
  'The token lists CKM_RSA_AES_KEY_WRAP, but pkcs11js cannot pass CK_RSA_AES_KEY_WRAP_PARAMS, so the composed path is used.';

/**
 * Pure decision from the mechanism list and (when a probe ran) its results. `probe` null means no probe
 * could run; `notProbedReason` then says why and every answer is marked probed=false.
 */
export function decideKmsCapabilities(mechanisms: readonly Mech[], probe: CapabilityProbeResults | null, notProbedReason = 'no probe ran'): KmsCapability[] {
  const oaepListed = listsForWrap(mechanisms, CKM_RSA_PKCS_OAEP);
  const kwpListed = listsForWrap(mechanisms, CKM_AES_KEY_WRAP_KWP);
  const padListed = listsForWrap(mechanisms, CKM_AES_KEY_WRAP_PAD);
  const rsaAesListed = mechanisms.some((m) => m.code === CKM_RSA_AES_KEY_WRAP);
  const note = rsaAesListed ? ` ${RSA_AES_NOTE}` : '';

  return (['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'] as const).map((algorithm) => {
    const hash = HASH_OF[algorithm];
    const oaepMethod = `CKM_RSA_PKCS_OAEP (${hash}, MGF1-${hash})`;
    const composed = algorithm.startsWith('RSA_AES');

    if (!oaepListed) {
      // Decided from the list alone: nothing was tried on the token.
      return { algorithm, supported: false, reason: 'The token does not list CKM_RSA_PKCS_OAEP for wrapping.', probed: false };
    }

    if (probe === null) {
      if (!composed) {
        return { algorithm, supported: true, method: oaepMethod, reason: `Untested (${notProbedReason}): CKM_RSA_PKCS_OAEP is listed, but only a probe can tell whether it does ${hash}.`, probed: false };
      }
      if (kwpListed) {
        return {
          algorithm,
          supported: true,
          method: `composed: CKM_AES_KEY_WRAP_KWP + ${oaepMethod}`,
          reason: `Untested (${notProbedReason}): CKM_AES_KEY_WRAP_KWP and CKM_RSA_PKCS_OAEP are listed, but only a probe can tell whether they work with ${hash}.${note}`,
          probed: false,
        };
      }
      return {
        algorithm,
        supported: false,
        reason: padListed
          ? `Only CKM_AES_KEY_WRAP_PAD is listed, and whether it is RFC 5649 can only be told by a probe (${notProbedReason}).${note}`
          : `The token lists no RFC 5649 mechanism (CKM_AES_KEY_WRAP_KWP or an RFC 5649 CKM_AES_KEY_WRAP_PAD).${note}`,
        probed: false,
      };
    }

    const oaep = probe.oaep[hash];
    if (!oaep?.ok) {
      return {
        algorithm,
        supported: false,
        reason: `The token refused RSA-OAEP with ${hash}${oaep?.error ? ` (${oaep.error})` : ''}.${note}`,
        probed: true,
      };
    }
    if (!composed) {
      return { algorithm, supported: true, method: oaepMethod, reason: `Wrapped a probe key with ${oaepMethod}; node:crypto decrypted it.`, probed: true };
    }
    if (probe.kwp?.ok && probe.kwp.rfc5649) {
      return {
        algorithm,
        supported: true,
        method: `composed: CKM_AES_KEY_WRAP_KWP + ${oaepMethod}`,
        reason: `CKM_AES_KEY_WRAP_KWP produced RFC 5649 output and ${oaepMethod} works.${privateKeyNote(probe.privateKey)}${note}`,
        probed: true,
      };
    }
    if (probe.pad?.ok && probe.pad.rfc5649) {
      return {
        algorithm,
        supported: true,
        method: `composed: CKM_AES_KEY_WRAP_PAD (RFC 5649 here) + ${oaepMethod}`,
        reason: `CKM_AES_KEY_WRAP_PAD produced RFC 5649 output (${probe.pad.length} bytes for a 32-byte key) and ${oaepMethod} works.${privateKeyNote(probe.privateKey)}${note}`,
        probed: true,
      };
    }
    const why: string[] = [];
    if (!kwpListed) why.push('CKM_AES_KEY_WRAP_KWP is not listed');
    else if (probe.kwp && !probe.kwp.ok) why.push(`CKM_AES_KEY_WRAP_KWP failed (${probe.kwp.error ?? 'error'})`);
    else if (probe.kwp) why.push('CKM_AES_KEY_WRAP_KWP output is not RFC 5649');
    if (!padListed) why.push('CKM_AES_KEY_WRAP_PAD is not listed');
    else if (probe.pad && !probe.pad.ok) why.push(`CKM_AES_KEY_WRAP_PAD failed (${probe.pad.error ?? 'error'})`);
    else if (probe.pad) why.push(`CKM_AES_KEY_WRAP_PAD is not RFC 5649 here (${probe.pad.length} bytes for a 32-byte key, expected ${RFC5649_LENGTH_FOR_32})`);
    return { algorithm, supported: false, reason: `No RFC 5649 wrap inside the token: ${why.join('; ')}.${note}`, probed: true };
  });
}

// ---- the prober ----

let probeKeyPair: { spki: Uint8Array; privateKey: KeyObject } | undefined;

/** One RSA-2048 key pair per process: the probe only needs some public key the token will accept. */
function probeKey(): { spki: Uint8Array; privateKey: KeyObject } {
  if (!probeKeyPair) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    probeKeyPair = { spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })), privateKey };
  }
  return probeKeyPair;
}

function aesProbeTemplate(label: string, wrap: boolean): SecretKeyTemplate {
  // Session objects, not private: no login needed and nothing is left on the token.
  return {
    label,
    id: new Uint8Array(),
    token: false,
    private: false,
    sensitive: true,
    extractable: true,
    encrypt: false,
    decrypt: false,
    sign: false,
    verify: false,
    wrap,
    unwrap: false,
    derive: false,
  };
}

function errorCode(e: unknown): string {
  return e instanceof TokenError ? e.code : e instanceof Error ? e.message : String(e);
}

function rfc5649Unwrap(kek: Buffer, wrapped: Uint8Array): Buffer | undefined {
  try {
    const d = createDecipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return undefined;
  }
}

function unwrapsAsRfc5649(kek: Buffer, wrapped: Uint8Array): boolean {
  return rfc5649Unwrap(kek, wrapped)?.length === 32;
}

/** The length a DER SEQUENCE's header claims, header included (undefined when it is not one). */
function outerDerLength(b: Uint8Array): number | undefined {
  if (b.length < 2 || b[0] !== 0x30) return undefined;
  const first = b[1] as number;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n < 1 || n > 3 || b.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] as number);
  return 2 + n + len;
}

/**
 * Probe a token through the TokenLayer interface and decide. Never throws for a token that cannot be
 * probed (uninitialised, no session): the answer then comes from the mechanism list with probed=false.
 */
export async function probeKmsCapabilities(layer: TokenLayer, slot: SlotRef): Promise<KmsCapability[]> {
  // A driver that knows its device better than a mechanism list can answer itself (the YubiHSM does
  // RSA_AES_KEY_WRAP in one command and has no OAEP wrap at all).
  if (layer.kmsCapabilities) return layer.kmsCapabilities(slot);
  const mechanisms = await layer.listMechanisms(slot);
  const oaepListed = listsForWrap(mechanisms, CKM_RSA_PKCS_OAEP);
  const kwpListed = listsForWrap(mechanisms, CKM_AES_KEY_WRAP_KWP);
  const padListed = listsForWrap(mechanisms, CKM_AES_KEY_WRAP_PAD);
  if (!oaepListed) return decideKmsCapabilities(mechanisms, null, 'the token does not list CKM_RSA_PKCS_OAEP');

  let session: string;
  try {
    session = (await layer.openSession(slot, { readWrite: true })).session;
  } catch (e) {
    if (e instanceof TokenError && e.code === 'CKR_TOKEN_NOT_RECOGNIZED') return decideKmsCapabilities(mechanisms, null, 'the token is blank: nothing can be tried on it before it is initialised');
    const msg = e instanceof TokenError ? `${e.code}: ${e.message}` : String(e);
    return decideKmsCapabilities(mechanisms, null, `no session could be opened: ${msg}`);
  }

  const created: string[] = [];
  try {
    const { spki, privateKey } = probeKey();
    let rsa: string, kek: string, material: string;
    try {
      rsa = await layer.createPublicKeyFromSpki(session, spki, { label: 'kc-probe-rsa', token: false, encrypt: true, wrap: true, verify: false });
      created.push(rsa);
      kek = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesProbeTemplate('kc-probe-kek', true));
      created.push(kek);
      material = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, aesProbeTemplate('kc-probe-material', false));
      created.push(material);
    } catch (e) {
      const msg = e instanceof TokenError ? `${e.code}: ${e.message}` : String(e);
      return decideKmsCapabilities(mechanisms, null, `probe objects could not be created: ${msg}`);
    }

    const results: CapabilityProbeResults = { oaep: {} };
    let kekBytes: Buffer | undefined;
    for (const hash of ['SHA-1', 'SHA-256'] as const) {
      try {
        const wrapped = await layer.wrapKey(session, { name: 'RSA_PKCS_OAEP', hash }, rsa, kek);
        // The token must have used the hash we asked for: decrypt with it.
        const plain = privateDecrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash === 'SHA-1' ? 'sha1' : 'sha256' },
          wrapped,
        );
        const ok = plain.length === 32;
        results.oaep[hash] = ok ? { ok, length: wrapped.length } : { ok, error: `decrypted to ${plain.length} bytes, not 32` };
        if (ok) kekBytes ??= plain;
      } catch (e) {
        results.oaep[hash] = { ok: false, error: e instanceof TokenError ? errorCode(e) : `node:crypto could not decrypt the output (${errorCode(e)})` };
      }
    }

    const aesProbe = async (name: 'AES_KEY_WRAP_KWP' | 'AES_KEY_WRAP_PAD'): Promise<WrapProbe> => {
      try {
        const wrapped = await layer.wrapKey(session, { name }, kek, material);
        const rfc5649 = kekBytes ? unwrapsAsRfc5649(kekBytes, wrapped) : wrapped.length === RFC5649_LENGTH_FOR_32;
        return { ok: true, length: wrapped.length, rfc5649 };
      } catch (e) {
        return { ok: false, error: errorCode(e) };
      }
    };
    if (kwpListed) results.kwp = await aesProbe('AES_KEY_WRAP_KWP');
    if (padListed) results.pad = await aesProbe('AES_KEY_WRAP_PAD');
    const rfc5649 = results.kwp?.ok && results.kwp.rfc5649 ? 'AES_KEY_WRAP_KWP' : results.pad?.ok && results.pad.rfc5649 ? 'AES_KEY_WRAP_PAD' : undefined;
    if (rfc5649 && kekBytes) {
      try {
        // A public session pair: no login needed, gone with the session.
        const pair = await layer.generateKeyPair(
          session,
          { type: 'EC', curve: 'P-256' },
          { label: 'kc-probe-private', id: new Uint8Array(), token: false, encrypt: false, verify: false, wrap: false },
          { label: 'kc-probe-private', id: new Uint8Array(), token: false, private: false, sensitive: true, extractable: true, decrypt: false, sign: false, unwrap: false, derive: false },
        );
        created.push(pair.publicKey, pair.privateKey);
        const plain = rfc5649Unwrap(kekBytes, await layer.wrapKey(session, { name: rfc5649 }, kek, pair.privateKey));
        const der = plain ? outerDerLength(plain) : undefined;
        results.privateKey = plain && der !== undefined ? { exact: der === plain.length, der, unwrapped: plain.length } : { error: 'the output did not unwrap to a DER private key' };
      } catch (e) {
        results.privateKey = { error: errorCode(e) };
      }
    }
    return decideKmsCapabilities(mechanisms, results);
  } finally {
    for (const o of created.reverse()) {
      try {
        await layer.destroyObject(session, o);
      } catch {
        // Session objects vanish with the session anyway.
      }
    }
    try {
      await layer.closeSession(session);
    } catch {
      // Already closed (module unloaded meanwhile).
    }
  }
}
