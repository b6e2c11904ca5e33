// The token credentials derived from the ceremony secret S. Nobody chooses, sees or types them: the app
// rebuilds S from M shares, derives the PIN it needs, logs in, and wipes S.
import { AppError } from '../../errors.js';
import { BASE32_ALPHABET } from './base32.js';
import { hkdf, LABELS, type Label } from './kdf.js';
import { SECRET_BYTES } from './secret.js';
import { wipe } from './wipe.js';

/** 32 base32 characters = 160 bits: far beyond guessing, and short enough for every token we know. */
export const DEFAULT_PIN_LENGTH = 32;
/** Below 16 characters (80 bits) we refuse: the PIN would be weaker than the rest of the ceremony. */
export const MIN_DERIVED_PIN_LENGTH = 16;
/** PKCS#11 lengths are CK_ULONG, but no real token wants more than 255; 1024 bounds the HKDF work. */
export const MAX_DERIVED_PIN_LENGTH = 1024;

export interface PinLimits {
  /** CK_TOKEN_INFO.ulMinPinLen: the derived PIN is made at least this long. */
  minPinLength?: number;
  /** CK_TOKEN_INFO.ulMaxPinLen: the derived PIN is cut to at most this long (SoftHSM: 255). */
  maxPinLength?: number;
}

export interface TokenPins {
  userPin: string;
  soPin: string;
}

/**
 * The PIN length for a token: DEFAULT_PIN_LENGTH, raised to the token's minimum and cut to its maximum,
 * never below MIN_DERIVED_PIN_LENGTH. A token whose limits allow no such length is refused.
 */
export function pinLength(limits: PinLimits = {}): number {
  const min = limits.minPinLength ?? 0;
  const max = limits.maxPinLength ?? Number.MAX_SAFE_INTEGER;
  if (min > max) {
    throw new AppError('quorum-pin-length', `token PIN length: the minimum ${min} exceeds the maximum ${max}`, 'Check the token information the module reports.');
  }
  if (max < MIN_DERIVED_PIN_LENGTH) {
    throw new AppError(
      'quorum-pin-length',
      `token PIN length: the token accepts at most ${max} characters but a derived PIN needs at least ${MIN_DERIVED_PIN_LENGTH}`,
      'Use a token that accepts PINs of 16 characters or more.',
    );
  }
  if (min > MAX_DERIVED_PIN_LENGTH) {
    throw new AppError('quorum-pin-length', `token PIN length: a minimum of ${min} characters is beyond ${MAX_DERIVED_PIN_LENGTH}`, 'Check the token information the module reports.');
  }
  return Math.min(Math.max(DEFAULT_PIN_LENGTH, min), max);
}

/** `length` base32 characters from HKDF(S, ceremonyId, label): 5 bits of HKDF output per character. */
function derivePinString(secret: Uint8Array, ceremonyId: string, label: Label, length: number): string {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new AppError('quorum-secret', `secret: expected ${SECRET_BYTES} bytes`, 'Rebuild the ceremony secret from the shares first.');
  }
  const bytes = hkdf(secret, ceremonyId, label, length); // one byte per character, low 5 bits used: uniform over 32
  try {
    let pin = '';
    for (const b of bytes) pin += BASE32_ALPHABET[b & 31];
    return pin;
  } finally {
    wipe(bytes);
  }
}

/**
 * The user PIN and the SO PIN of the token, from S. `ceremonyId` is the id of the init-token ceremony that
 * generated S (the id every share is bound to), not the id of a later ceremony that unlocks the token.
 */
export function derivePins(secret: Uint8Array, ceremonyId: string, limits: PinLimits = {}): TokenPins {
  const length = pinLength(limits);
  return {
    userPin: derivePinString(secret, ceremonyId, LABELS.userPin, length),
    soPin: derivePinString(secret, ceremonyId, LABELS.soPin, length),
  };
}

/** The password of the YubiHSM 2 authentication key the ceremony creates (turned into keys by PBKDF2 on the device side). */
export function deriveYubiHsmAuthPassword(secret: Uint8Array, ceremonyId: string): string {
  return derivePinString(secret, ceremonyId, LABELS.yubihsmAuth, DEFAULT_PIN_LENGTH);
}
