// CK_SLOT_INFO / CK_TOKEN_INFO as our plain data, and the handle encodings. Modules pad their strings
// with blanks to a fixed width; nothing above this file should ever see the padding.
import pkcs11js from 'pkcs11js';
import type { SlotInfo as NativeSlotInfo, TokenInfo as NativeTokenInfo } from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';
import type { ObjectHandle, SlotInfo, TokenInfo } from '../types.js';

// Slot flags (PKCS#11 CK_SLOT_INFO): exported by pkcs11js at run time but missing from its typings.
const CKF_TOKEN_PRESENT = 0x1;
const CKF_REMOVABLE_DEVICE = 0x2;
const CKF_HW_SLOT = 0x4;

const {
  CKF_RNG,
  CKF_WRITE_PROTECTED,
  CKF_LOGIN_REQUIRED,
  CKF_USER_PIN_INITIALIZED,
  CKF_PROTECTED_AUTHENTICATION_PATH,
  CKF_TOKEN_INITIALIZED,
  CKF_USER_PIN_COUNT_LOW,
  CKF_USER_PIN_FINAL_TRY,
  CKF_USER_PIN_LOCKED,
  CKF_SO_PIN_LOCKED,
} = pkcs11js;

export function trimPad(s: string): string {
  return s.replace(/[ \0]+$/, '');
}

/** CK_SLOT_ID as a decimal string: NSS uses values past 2^32 and JSON has no 64-bit integers. */
export function slotIdOf(handle: Buffer): string {
  return (handle.length >= 8 ? handle.readBigUInt64LE(0) : BigInt(handle.readUInt32LE(0))).toString();
}

export function decodeTokenInfo(t: NativeTokenInfo): TokenInfo {
  const f = t.flags;
  return {
    label: trimPad(t.label),
    manufacturer: trimPad(t.manufacturerID),
    model: trimPad(t.model),
    serial: trimPad(t.serialNumber),
    initialized: (f & CKF_TOKEN_INITIALIZED) !== 0,
    loginRequired: (f & CKF_LOGIN_REQUIRED) !== 0,
    userPinInitialized: (f & CKF_USER_PIN_INITIALIZED) !== 0,
    userPinLocked: (f & CKF_USER_PIN_LOCKED) !== 0,
    userPinCountLow: (f & CKF_USER_PIN_COUNT_LOW) !== 0,
    userPinFinalTry: (f & CKF_USER_PIN_FINAL_TRY) !== 0,
    soPinLocked: (f & CKF_SO_PIN_LOCKED) !== 0,
    writeProtected: (f & CKF_WRITE_PROTECTED) !== 0,
    hasRng: (f & CKF_RNG) !== 0,
    protectedAuthenticationPath: (f & CKF_PROTECTED_AUTHENTICATION_PATH) !== 0,
    minPinLength: t.minPinLen,
    maxPinLength: t.maxPinLen,
    flags: f,
  };
}

export function decodeSlotInfo(moduleId: string, slotId: string, s: NativeSlotInfo, token: TokenInfo | undefined): SlotInfo {
  const info: SlotInfo = {
    moduleId,
    slotId,
    description: trimPad(s.slotDescription),
    manufacturer: trimPad(s.manufacturerID),
    tokenPresent: (s.flags & CKF_TOKEN_PRESENT) !== 0 && token !== undefined,
    removable: (s.flags & CKF_REMOVABLE_DEVICE) !== 0,
    hardware: (s.flags & CKF_HW_SLOT) !== 0,
  };
  if (token && info.tokenPresent) info.token = token;
  return info;
}

export function slotPresent(s: NativeSlotInfo): boolean {
  return (s.flags & CKF_TOKEN_PRESENT) !== 0;
}

// Object handles are valid in every session of the application (PKCS#11 section 4.4), so the string is
// just the native handle's bytes; it is opaque to callers all the same.
export function encodeObjectHandle(h: Buffer): ObjectHandle {
  return h.toString('hex');
}

export function decodeObjectHandle(h: ObjectHandle): Buffer {
  if (typeof h !== 'string' || !/^([0-9a-f]{2}){4,8}$/.test(h)) {
    throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `object handle ${JSON.stringify(h)} was not issued by this token layer`, 'Find the object again and use the handle returned.');
  }
  return Buffer.from(h, 'hex');
}

/** A C_InitToken label: exactly 32 bytes of UTF-8, blank padded (pkcs11js passes the string as is). */
export function paddedLabel(label: string): string {
  const len = Buffer.byteLength(label, 'utf8');
  if (typeof label !== 'string' || label.trim() === '' || len > 32) {
    throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `label ${JSON.stringify(label)} must be 1 to 32 bytes of UTF-8`, 'Choose a shorter token label.');
  }
  return label + ' '.repeat(32 - len);
}
