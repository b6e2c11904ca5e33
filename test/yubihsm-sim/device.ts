// A YubiHSM 2 (firmware 2.4) device model that speaks the device's wire protocol: plain frames, the
// SCP03-style secure channel, the object store with ids/types/domains/capabilities/delegated capabilities
// enforced as the device does, the audit log with its digest chain, and reset. Real cryptography from
// node:crypto; nothing here trusts the host.
//
// Where Yubico's documentation does not say what the device does, the choice made is marked MODEL.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomInt,
  sign,
  type KeyObject,
} from 'node:crypto';
import { concat, equalBytes, packLabel, Reader, u16, u32, u64, u8, unpackLabel } from '../../hsm/yubihsm/bytes.js';
import {
  ALL_CAPABILITIES,
  ALL_DOMAINS,
  Algorithm,
  AuditSetting,
  Capability,
  Command,
  DeviceError,
  DeviceOption,
  ListFilter,
  LOG_STORE_SIZE,
  MAC_LENGTH,
  MAX_MESSAGE_2_4,
  MAX_SESSIONS,
  ObjectType,
  Origin,
  RESPONSE_FLAG,
} from '../../hsm/yubihsm/constants.js';
import { aesCmac, cardCryptogram, cbcDecrypt, cbcEncrypt, deriveSessionKeys, hostCryptogram, messageIv, pad80, passwordToKeys, unpad80, type SessionKeys, type StaticKeys } from '../../hsm/yubihsm/crypto.js';
import { decodeFrame, encodeFrame } from '../../hsm/yubihsm/frame.js';
import { RSA_ALGORITHMS, publicKeyFromRaw } from '../../hsm/yubihsm/keys.js';
import { chainDigest, encodeLogEntry, logEntryData, type LogEntry } from '../../hsm/yubihsm/log.js';
import { ecPoint, ecScalar, SIM_EC } from './ec-curves.js';
import { signDigest } from './ecdsa.js';
import { asymmetricSession, checkAuthPublicKey, devicePublicPoint, newDeviceKey } from './asymmetric-auth.js';
import { signAttestationCertificate } from './attestation.js';
import { createOtpAead, decryptOtp, putOtpAeadKey, rewrapOtpAead } from './otp-commands.js';
import { decryptOaep, decryptPkcs1, deriveEcdh, signPkcs1, signPss } from './asymmetric-commands.js';
import { AES_LENGTH, CCM_WRAP_LENGTH, HMAC, MGF_HASH, OAEP_HASH } from './algorithms.js';
import { DeviceFailure, fail } from './failure.js';
import { importPrivate, oaepEncrypt } from './key-material.js';
import { exportWrapped, exportWrappedRsa, importWrapped, importWrappedRsa, putWrapKey, unwrapKeyRsa, wrapData, type WrapHost, type WrapResult } from './wrap-commands.js';

export interface SimObject {
  id: number;
  type: number;
  algorithm: number;
  label: string;
  domains: number;
  capabilities: bigint;
  delegatedCapabilities: bigint;
  origin: number;
  sequence: number;
  /** Authentication keys: symmetric (K-ENC, K-MAC) or, for EC_P256_YUBICO_AUTHENTICATION, the public X || Y. */
  staticKeys?: StaticKeys;
  authPublicKey?: Uint8Array;
  /** Asymmetric keys. */
  privateKey?: KeyObject;
  /** Asymmetric and public wrap keys. */
  publicKey?: KeyObject;
  /** Symmetric, HMAC, wrap and OTP AEAD keys. */
  secret?: Uint8Array;
  /** OTP AEAD keys: the 4-byte nonce id, as the command carried it. */
  otpNonceId?: Uint8Array;
}

interface SimSession {
  id: number;
  authKeyId: number;
  authenticated: boolean;
  context: Uint8Array;
  keys: SessionKeys;
  chain: Uint8Array;
  counter: bigint;
  lastUsed: number;
}

export interface SimulatorOptions {
  serial?: number;
  version?: { major: number; minor: number; patch: number };
  partNumber?: string;
  /** Idle sessions expire after this long (the device: 30 s). */
  sessionTimeoutMs?: number;
  now?: () => number;
}


/** Which capability deletes which object type. */
const DELETE_CAPABILITY: Record<number, bigint> = {
  [ObjectType.OPAQUE]: Capability.DELETE_OPAQUE,
  [ObjectType.AUTHENTICATION_KEY]: Capability.DELETE_AUTHENTICATION_KEY,
  [ObjectType.ASYMMETRIC_KEY]: Capability.DELETE_ASYMMETRIC_KEY,
  [ObjectType.WRAP_KEY]: Capability.DELETE_WRAP_KEY,
  [ObjectType.HMAC_KEY]: Capability.DELETE_HMAC_KEY,
  [ObjectType.TEMPLATE]: Capability.DELETE_TEMPLATE,
  [ObjectType.OTP_AEAD_KEY]: Capability.DELETE_OTP_AEAD_KEY,
  [ObjectType.SYMMETRIC_KEY]: Capability.DELETE_SYMMETRIC_KEY,
  [ObjectType.PUBLIC_WRAP_KEY]: Capability.PUBLIC_WRAP_KEY_DELETE,
};

/** Commands that cannot be audited (python-yubihsm's device tests leave exactly these out). */
const NEVER_LOGGED = new Set<number>([Command.ERROR, Command.DEVICE_INFO, Command.GET_LOG_ENTRIES, Command.ECHO, Command.SESSION_MESSAGE]);

const MAX_OBJECTS = 256;
export const FACTORY_AUTH_KEY_LABEL = 'DEFAULT AUTHKEY CHANGE THIS ASAP';

/** Result of one inner command: the response frame plus what the audit log records. */
interface Outcome {
  response: Uint8Array;
  target: number;
  second: number;
  after?: () => void;
}

export class YubiHsmSimulator {
  readonly serial: number;
  readonly version: { major: number; minor: number; patch: number };
  readonly partNumber: string;
  private readonly sessionTimeoutMs: number;
  private readonly now: () => number;

  private objects = new Map<string, SimObject>();
  private sequences = new Map<string, number>();
  private sessions = new Map<number, SimSession>();
  private log: LogEntry[] = [];
  private lastDigest: Uint8Array = new Uint8Array(16);
  private nextLogNumber = 1;
  private unloggedBoot = 0;
  private unloggedAuth = 0;
  private commandAudit = new Map<number, number>();
  private forceAudit: number = AuditSetting.OFF;
  private bootTime = 0;
  /** The device's static P-256 key for asymmetric authentication; a reset keeps it, as it keeps the serial. */
  private readonly deviceKey = newDeviceKey();
  /** Every frame in and out, for tests that want to look at the wire. */
  readonly wire: { request: Uint8Array; response: Uint8Array }[] = [];
  recordWire = false;

  constructor(options: SimulatorOptions = {}) {
    this.serial = options.serial ?? 1_234_567;
    this.version = options.version ?? { major: 2, minor: 4, patch: 0 };
    this.partNumber = options.partNumber ?? 'keyceremony YubiHSM simulator';
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.factoryReset();
  }

  // ---------------------------------------------------------------- state

  /** Factory state: one authentication key (id 1, "password", every capability), a reset line and a boot line in the log. */
  private factoryReset(): void {
    this.objects.clear();
    this.sequences.clear();
    this.sessions.clear();
    this.commandAudit = new Map();
    this.forceAudit = AuditSetting.OFF;
    this.unloggedBoot = 0;
    this.unloggedAuth = 0;
    this.log = [];
    this.bootTime = this.now();
    this.store({
      id: 1,
      type: ObjectType.AUTHENTICATION_KEY,
      algorithm: Algorithm.AES128_YUBICO_AUTHENTICATION,
      label: FACTORY_AUTH_KEY_LABEL,
      domains: ALL_DOMAINS,
      capabilities: ALL_CAPABILITIES,
      delegatedCapabilities: ALL_CAPABILITIES,
      origin: Origin.IMPORTED,
      sequence: 0,
      staticKeys: passwordToKeys('password'),
    });
    // The reset line is all 0xFF with a digest that anchors the chain. MODEL: a real device's anchor digest
    // is not derivable from anything published, so this one is random.
    const reset: LogEntry = { number: 1, command: 0xff, length: 0xffff, sessionKey: 0xffff, targetKey: 0xffff, secondKey: 0xffff, result: 0xff, tick: 0xffffffff, digest: new Uint8Array(randomBytes(16)) };
    this.log.push(reset);
    this.lastDigest = reset.digest;
    this.nextLogNumber = 2;
    this.appendLog(0, 0, 0xffff, 0, 0, 0, 0);
  }

  /** Unplug and plug back in: sessions are gone, a boot line is logged, objects stay. */
  powerCycle(): void {
    this.sessions.clear();
    this.bootTime = this.now();
    if (!this.appendLog(0, 0, 0xffff, 0, 0, 0, 0)) this.unloggedBoot++;
  }

  private key(id: number, type: number) {
    return `${type}:${id}`;
  }

  private store(o: SimObject): void {
    this.objects.set(this.key(o.id, o.type), o);
  }

  /** Test access to an object including its key material: only a simulator can offer this. */
  inspectObject(id: number, type: number): SimObject | undefined {
    const o = this.objects.get(this.key(id, type));
    return o && { ...o };
  }

  /** Every stored object's address (type, id, label), for tests that count what a ceremony left behind. */
  listObjectsForTest(): { type: number; id: number; label: string }[] {
    return [...this.objects.values()].map((o) => ({ type: o.type, id: o.id, label: o.label }));
  }

  /** The audit log entries the device holds now (not yet consumed by SET_LOG_INDEX), for cross-checks. */
  logForTest(): { number: number; command: number; digest: Uint8Array }[] {
    return this.log.map((e) => ({ number: e.number, command: e.command, digest: e.digest.slice() }));
  }

  get openSessionCount(): number {
    this.expireSessions();
    return this.sessions.size;
  }

  // ---------------------------------------------------------------- log

  private tick(): number {
    return Math.max(0, Math.min(0xfffffffe, this.now() - this.bootTime)) >>> 0;
  }

  /** Append one entry; false when forced audit is on and the store is full (nothing is written then). */
  private appendLog(command: number, length: number, sessionKey: number, target: number, second: number, result: number, tick = this.tick()): boolean {
    if (this.log.length >= LOG_STORE_SIZE) {
      if (this.forceAudit !== AuditSetting.OFF) return false;
      this.log.shift(); // circular: the oldest entry is overwritten
    }
    const partial = { number: this.nextLogNumber, command, length, sessionKey, targetKey: target, secondKey: second, result, tick };
    const digest = chainDigest(logEntryData(partial), this.lastDigest);
    this.log.push({ ...partial, digest });
    this.lastDigest = digest;
    this.nextLogNumber = (this.nextLogNumber + 1) & 0xffff;
    return true;
  }

  private audited(command: number): boolean {
    return !NEVER_LOGGED.has(command) && (this.commandAudit.get(command) ?? AuditSetting.OFF) !== AuditSetting.OFF;
  }

  private logFull(): boolean {
    return this.forceAudit !== AuditSetting.OFF && this.log.length >= LOG_STORE_SIZE;
  }

  // ---------------------------------------------------------------- wire

  /** One request frame in, one response frame out: what USB or the connector carries. */
  process(request: Uint8Array): Uint8Array {
    const response = this.processFrame(request);
    if (this.recordWire) this.wire.push({ request: request.slice(), response: response.slice() });
    return response;
  }

  private processFrame(request: Uint8Array): Uint8Array {
    this.expireSessions();
    if (request.length > MAX_MESSAGE_2_4) return errorFrame(DeviceError.INVALID_DATA);
    const frame = decodeFrame(request);
    if (!frame || request.length !== 3 + frame.payload.length) return errorFrame(DeviceError.WRONG_LENGTH);
    try {
      switch (frame.command) {
        case Command.ECHO:
          return encodeFrame(Command.ECHO | RESPONSE_FLAG, frame.payload);
        case Command.DEVICE_INFO:
          return encodeFrame(Command.DEVICE_INFO | RESPONSE_FLAG, this.deviceInfo(frame.payload));
        case Command.GET_DEVICE_PUBLIC_KEY:
          if (frame.payload.length !== 0) fail(DeviceError.WRONG_LENGTH);
          return encodeFrame(Command.GET_DEVICE_PUBLIC_KEY | RESPONSE_FLAG, concat(u8(Algorithm.EC_P256_YUBICO_AUTHENTICATION), devicePublicPoint(this.deviceKey)));
        case Command.CREATE_SESSION:
          return this.createSession(frame.payload);
        case Command.AUTHENTICATE_SESSION:
          return this.authenticateSession(request, frame.payload);
        case Command.SESSION_MESSAGE:
          return this.sessionMessage(request, frame.payload);
        default:
          // MODEL: other commands are only accepted inside an authenticated session.
          return errorFrame(DeviceError.INVALID_COMMAND);
      }
    } catch (e) {
      if (e instanceof DeviceFailure) return errorFrame(e.code);
      throw e;
    }
  }

  private deviceInfo(payload: Uint8Array): Uint8Array {
    if (payload.length === 1 && payload[0] === 1 && this.atLeast24()) return new TextEncoder().encode(this.partNumber);
    if (payload.length !== 0) fail(DeviceError.INVALID_DATA);
    const algorithms = Object.values(Algorithm).filter((a) => a <= Algorithm.AES_KWP);
    return concat(Uint8Array.of(this.version.major, this.version.minor, this.version.patch), u32(this.serial), u8(LOG_STORE_SIZE), u8(this.log.length), Uint8Array.from(algorithms));
  }

  private atLeast24() {
    return this.version.major > 2 || (this.version.major === 2 && this.version.minor >= 4);
  }

  private expireSessions(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastUsed > this.sessionTimeoutMs) this.sessions.delete(id);
  }

  private createSession(payload: Uint8Array): Uint8Array {
    // 8-byte host challenge (symmetric), or the host's ephemeral P-256 point (asymmetric authentication).
    const asymmetric = payload.length === 2 + 65;
    if (payload.length !== 2 + 8 && !asymmetric) fail(DeviceError.WRONG_LENGTH);
    const r = new Reader(payload);
    const authKeyId = r.u16();
    const respond = (response: Uint8Array) => {
      if (this.audited(Command.CREATE_SESSION) && !this.appendLog(Command.CREATE_SESSION, payload.length, 0xffff, authKeyId, 0xffff, response[0] as number)) this.unloggedAuth++;
      return response;
    };
    const key = this.objects.get(this.key(authKeyId, ObjectType.AUTHENTICATION_KEY));
    if (!key || !(asymmetric ? key.authPublicKey : key.staticKeys)) return respond(errorFrame(DeviceError.OBJECT_NOT_FOUND));
    let id = -1;
    for (let i = 0; i < MAX_SESSIONS; i++)
      if (!this.sessions.has(i)) {
        id = i;
        break;
      }
    if (id < 0) return respond(errorFrame(DeviceError.SESSIONS_FULL));
    if (asymmetric) {
      const hostPoint = r.bytes(65);
      let made: ReturnType<typeof asymmetricSession>;
      try {
        made = asymmetricSession(this.deviceKey, key.authPublicKey as Uint8Array, hostPoint);
      } catch (e) {
        if (e instanceof DeviceFailure) return respond(errorFrame(e.code));
        throw e;
      }
      this.sessions.set(id, { id, authKeyId, authenticated: true, context: new Uint8Array(0), keys: made.keys, chain: made.receipt, counter: 1n, lastUsed: this.now() });
      return respond(encodeFrame(Command.CREATE_SESSION | RESPONSE_FLAG, concat(u8(id), made.devicePoint, made.receipt)));
    }
    const hostChallenge = r.bytes(8);
    const staticKeys = key.staticKeys as StaticKeys;
    const cardChallenge = new Uint8Array(randomBytes(8));
    const context = concat(hostChallenge, cardChallenge);
    const keys = deriveSessionKeys(staticKeys, context);
    this.sessions.set(id, { id, authKeyId, authenticated: false, context, keys, chain: new Uint8Array(16), counter: 1n, lastUsed: this.now() });
    return respond(encodeFrame(Command.CREATE_SESSION | RESPONSE_FLAG, concat(u8(id), cardChallenge, cardCryptogram(keys.sMac, context))));
  }

  private authenticateSession(request: Uint8Array, payload: Uint8Array): Uint8Array {
    if (payload.length !== 1 + 8 + MAC_LENGTH) fail(DeviceError.WRONG_LENGTH);
    const s = this.sessions.get(payload[0] as number);
    if (!s || s.authenticated) return errorFrame(DeviceError.INVALID_SESSION);
    const mac = aesCmac(s.keys.sMac, concat(new Uint8Array(16), request.subarray(0, request.length - MAC_LENGTH)));
    const ok = equalBytes(hostCryptogram(s.keys.sMac, s.context), payload.subarray(1, 9)) && equalBytes(mac.subarray(0, MAC_LENGTH), payload.subarray(9));
    const response = ok ? encodeFrame(Command.AUTHENTICATE_SESSION | RESPONSE_FLAG) : errorFrame(DeviceError.AUTHENTICATION_FAILED);
    if (this.audited(Command.AUTHENTICATE_SESSION) && !this.appendLog(Command.AUTHENTICATE_SESSION, payload.length, 0xffff, s.authKeyId, 0xffff, response[0] as number)) this.unloggedAuth++;
    if (!ok) {
      this.sessions.delete(s.id);
      return response;
    }
    s.authenticated = true;
    s.chain = mac;
    s.lastUsed = this.now();
    return response;
  }

  private sessionMessage(request: Uint8Array, payload: Uint8Array): Uint8Array {
    if (payload.length < 1 + 16 + MAC_LENGTH || (payload.length - 1 - MAC_LENGTH) % 16 !== 0) fail(DeviceError.WRONG_LENGTH);
    const s = this.sessions.get(payload[0] as number);
    if (!s || !s.authenticated) return errorFrame(DeviceError.INVALID_SESSION);
    const chain = aesCmac(s.keys.sMac, concat(s.chain, request.subarray(0, request.length - MAC_LENGTH)));
    if (!equalBytes(chain.subarray(0, MAC_LENGTH), payload.subarray(payload.length - MAC_LENGTH))) {
      // MODEL: a message whose MAC does not verify ends the session, answered outside the envelope.
      this.sessions.delete(s.id);
      return errorFrame(DeviceError.AUTHENTICATION_FAILED);
    }
    s.chain = chain;
    s.lastUsed = this.now();
    const iv = messageIv(s.keys.sEnc, s.counter);
    const plain = unpad80(cbcDecrypt(s.keys.sEnc, iv, payload.subarray(1, payload.length - MAC_LENGTH)));
    const inner = plain && decodeFrame(plain);
    let outcome: Outcome;
    if (!plain || !inner || plain.length !== 3 + inner.payload.length) outcome = { response: errorFrame(DeviceError.INVALID_DATA), target: 0xffff, second: 0xffff };
    else outcome = this.runInner(s, inner.command, inner.payload);

    const body = encodeFrame(Command.SESSION_MESSAGE | RESPONSE_FLAG, concat(u8(s.id), cbcEncrypt(s.keys.sEnc, iv, pad80(outcome.response)), new Uint8Array(MAC_LENGTH)));
    const rmac = aesCmac(s.keys.sRmac, concat(chain, body.subarray(0, body.length - MAC_LENGTH)));
    body.set(rmac.subarray(0, MAC_LENGTH), body.length - MAC_LENGTH);
    s.counter += 1n;
    outcome.after?.();
    return body;
  }

  private runInner(s: SimSession, command: number, payload: Uint8Array): Outcome {
    const audited = this.audited(command);
    // SET_LOG_INDEX is how a full log is emptied, so forced audit never refuses it.
    if (audited && this.logFull() && command !== Command.SET_LOG_INDEX) return { response: errorFrame(DeviceError.LOG_FULL), target: 0xffff, second: 0xffff };
    let outcome: Outcome;
    try {
      outcome = this.execute(s, command, payload);
    } catch (e) {
      if (!(e instanceof DeviceFailure)) throw e;
      outcome = { response: errorFrame(e.code), target: guessTarget(command, payload), second: 0xffff };
    }
    if (audited) this.appendLog(command, payload.length, s.authKeyId, outcome.target, outcome.second, outcome.response[0] as number);
    return outcome;
  }

  // ---------------------------------------------------------------- commands

  private authKey(s: SimSession): SimObject {
    return this.objects.get(this.key(s.authKeyId, ObjectType.AUTHENTICATION_KEY)) ?? fail(DeviceError.INVALID_SESSION);
  }

  private require(s: SimSession, capability: bigint): SimObject {
    const k = this.authKey(s);
    if ((k.capabilities & capability) !== capability) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    return k;
  }

  /** An object this session may see: it must share a domain with the session's authentication key. */
  private visible(s: SimSession, id: number, type: number): SimObject {
    const o = this.objects.get(this.key(id, type));
    if (!o || (o.domains & this.authKey(s).domains) === 0) fail(DeviceError.OBJECT_NOT_FOUND);
    return o as SimObject;
  }

  private ok(command: number, body: Uint8Array = new Uint8Array(0), target = 0xffff, second = 0xffff, after?: () => void): Outcome {
    return after ? { response: encodeFrame(command | RESPONSE_FLAG, body), target, second, after } : { response: encodeFrame(command | RESPONSE_FLAG, body), target, second };
  }

  /** Parse the common "new object" header and apply the rules every creating command shares. */
  private newObject(s: SimSession, r: Reader, type: number, withDelegated: boolean) {
    const id = r.u16();
    const label = unpackLabel(r.bytes(40));
    const domains = r.u16();
    const capabilities = r.u64();
    const algorithm = r.u8();
    const delegatedCapabilities = withDelegated ? r.u64() : 0n;
    const auth = this.authKey(s);
    if (domains === 0) fail(DeviceError.INVALID_DATA);
    if ((domains & ~auth.domains) !== 0) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    // An authentication key may only hand out capabilities it was delegated.
    if ((capabilities & ~auth.delegatedCapabilities) !== 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    if ((delegatedCapabilities & ~auth.delegatedCapabilities) !== 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    if (id === 0xffff) fail(DeviceError.INVALID_ID);
    if (this.objects.size >= MAX_OBJECTS) fail(DeviceError.STORAGE_FAILED);
    const finalId = id === 0 ? this.freeId(type) : id;
    if (this.objects.has(this.key(finalId, type))) fail(DeviceError.OBJECT_EXISTS);
    return { id: finalId, label, domains, capabilities, algorithm, delegatedCapabilities };
  }

  private freeId(type: number): number {
    for (;;) {
      const id = randomInt(1, 0xffff);
      if (!this.objects.has(this.key(id, type))) return id;
    }
  }

  private create(o: Omit<SimObject, 'sequence'>): SimObject {
    const k = this.key(o.id, o.type);
    const obj: SimObject = { ...o, sequence: this.sequences.get(k) ?? 0 };
    this.store(obj);
    return obj;
  }

  private execute(s: SimSession, command: number, payload: Uint8Array): Outcome {
    const r = new Reader(payload);
    const done = (fn: () => Outcome): Outcome => {
      let out: Outcome;
      try {
        out = fn();
      } catch (e) {
        if (e instanceof RangeError) fail(DeviceError.WRONG_LENGTH);
        throw e;
      }
      return out;
    };
    return done(() => {
      switch (command) {
        case Command.ECHO:
          return this.ok(command, payload);
        case Command.DEVICE_INFO:
          return this.ok(command, this.deviceInfo(payload));
        case Command.BLINK_DEVICE:
          return this.ok(command);
        case Command.CLOSE_SESSION:
          expectEnd(r);
          return this.ok(command, undefined, 0xffff, 0xffff, () => this.sessions.delete(s.id));
        case Command.GET_PSEUDO_RANDOM: {
          this.require(s, Capability.GET_PSEUDO_RANDOM);
          const n = r.u16();
          expectEnd(r);
          // MODEL: bounded by what fits one response message.
          if (n > MAX_MESSAGE_2_4 - 3 - 1 - 16 - MAC_LENGTH - 3) fail(DeviceError.INVALID_DATA);
          return this.ok(command, new Uint8Array(randomBytes(n)));
        }
        case Command.LIST_OBJECTS:
          return this.ok(command, this.listObjects(s, r));
        case Command.GET_OBJECT_INFO: {
          const id = r.u16();
          const type = r.u8();
          expectEnd(r);
          const o = this.visible(s, id, type);
          return this.ok(command, objectInfo(o), id);
        }
        case Command.DELETE_OBJECT: {
          const id = r.u16();
          const type = r.u8();
          expectEnd(r);
          const o = this.visible(s, id, type);
          this.require(s, DELETE_CAPABILITY[type] ?? fail(DeviceError.INVALID_DATA));
          const k = this.key(id, type);
          this.objects.delete(k);
          this.sequences.set(k, (o.sequence + 1) & 0xff);
          return this.ok(command, undefined, id);
        }
        case Command.PUT_AUTHENTICATION_KEY: {
          this.require(s, Capability.PUT_AUTHENTICATION_KEY);
          const o = this.newObject(s, r, ObjectType.AUTHENTICATION_KEY, true);
          if (o.algorithm === Algorithm.EC_P256_YUBICO_AUTHENTICATION) {
            const authPublicKey = checkAuthPublicKey(r.rest());
            this.create({ ...o, type: ObjectType.AUTHENTICATION_KEY, origin: Origin.IMPORTED, authPublicKey });
            return this.ok(command, u16(o.id), o.id);
          }
          if (o.algorithm !== Algorithm.AES128_YUBICO_AUTHENTICATION) fail(DeviceError.INVALID_DATA);
          const encKey = r.bytes(16).slice();
          const macKey = r.bytes(16).slice();
          expectEnd(r);
          this.create({ ...o, type: ObjectType.AUTHENTICATION_KEY, origin: Origin.IMPORTED, staticKeys: { encKey, macKey } });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.CHANGE_AUTHENTICATION_KEY: {
          this.require(s, Capability.CHANGE_AUTHENTICATION_KEY);
          const id = r.u16();
          const algorithm = r.u8();
          if (id !== s.authKeyId) fail(DeviceError.INVALID_ID); // MODEL: a key may only change itself
          const k = this.authKey(s);
          // MODEL: a key keeps its kind (symmetric or asymmetric) when it changes.
          if (algorithm !== k.algorithm) fail(DeviceError.INVALID_DATA);
          if (algorithm === Algorithm.EC_P256_YUBICO_AUTHENTICATION) k.authPublicKey = checkAuthPublicKey(r.rest());
          else {
            if (algorithm !== Algorithm.AES128_YUBICO_AUTHENTICATION) fail(DeviceError.INVALID_DATA);
            const encKey = r.bytes(16).slice();
            const macKey = r.bytes(16).slice();
            expectEnd(r);
            k.staticKeys = { encKey, macKey };
          }
          k.origin = Origin.IMPORTED;
          return this.ok(command, u16(id), id);
        }
        case Command.GENERATE_ASYMMETRIC_KEY: {
          this.require(s, Capability.GENERATE_ASYMMETRIC_KEY);
          const o = this.newObject(s, r, ObjectType.ASYMMETRIC_KEY, false);
          expectEnd(r);
          const { privateKey, publicKey } = generateAsymmetric(o.algorithm);
          this.create({ ...o, type: ObjectType.ASYMMETRIC_KEY, origin: Origin.GENERATED, privateKey, publicKey });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.PUT_ASYMMETRIC_KEY: {
          this.require(s, Capability.PUT_ASYMMETRIC);
          const o = this.newObject(s, r, ObjectType.ASYMMETRIC_KEY, false);
          const privateKey = importPrivate(o.algorithm, r.rest());
          this.create({ ...o, type: ObjectType.ASYMMETRIC_KEY, origin: Origin.IMPORTED, privateKey, publicKey: createPublicKey(privateKey) });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.GENERATE_WRAP_KEY: {
          this.require(s, Capability.GENERATE_WRAP_KEY);
          const o = this.newObject(s, r, ObjectType.WRAP_KEY, true);
          expectEnd(r);
          const length = CCM_WRAP_LENGTH[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
          this.create({ ...o, type: ObjectType.WRAP_KEY, origin: Origin.GENERATED, secret: new Uint8Array(randomBytes(length)) });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.GENERATE_SYMMETRIC_KEY:
        case Command.PUT_SYMMETRIC_KEY: {
          const put = command === Command.PUT_SYMMETRIC_KEY;
          this.require(s, put ? Capability.PUT_SYMMETRIC_KEY : Capability.GENERATE_SYMMETRIC_KEY);
          const o = this.newObject(s, r, ObjectType.SYMMETRIC_KEY, false);
          const length = AES_LENGTH[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
          const secret = put ? r.rest().slice() : new Uint8Array(randomBytes(length));
          expectEnd(r);
          if (secret.length !== length) fail(DeviceError.INVALID_DATA);
          this.create({ ...o, type: ObjectType.SYMMETRIC_KEY, origin: put ? Origin.IMPORTED : Origin.GENERATED, secret });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.PUT_OPAQUE: {
          this.require(s, Capability.PUT_OPAQUE);
          const o = this.newObject(s, r, ObjectType.OPAQUE, false);
          if (o.algorithm !== Algorithm.OPAQUE_DATA && o.algorithm !== Algorithm.OPAQUE_X509_CERTIFICATE) fail(DeviceError.INVALID_DATA);
          const data = r.rest().slice();
          // MODEL: an empty opaque object is refused, as yubihsm-shell refuses one.
          if (data.length === 0) fail(DeviceError.INVALID_DATA);
          this.create({ ...o, type: ObjectType.OPAQUE, origin: Origin.IMPORTED, secret: data });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.GET_OPAQUE: {
          this.require(s, Capability.GET_OPAQUE);
          const id = r.u16();
          expectEnd(r);
          const o = this.visible(s, id, ObjectType.OPAQUE);
          return this.ok(command, (o.secret as Uint8Array).slice(), id);
        }
        case Command.ENCRYPT_ECB:
        case Command.DECRYPT_ECB:
        case Command.ENCRYPT_CBC:
        case Command.DECRYPT_CBC:
          return this.aesBlock(s, command, r);
        case Command.GENERATE_HMAC_KEY:
        case Command.PUT_HMAC_KEY: {
          const put = command === Command.PUT_HMAC_KEY;
          this.require(s, put ? Capability.PUT_HMAC_KEY : Capability.GENERATE_HMAC_KEY);
          const o = this.newObject(s, r, ObjectType.HMAC_KEY, false);
          const h = HMAC[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
          const secret = put ? r.rest().slice() : new Uint8Array(randomBytes(h.block));
          expectEnd(r);
          if (secret.length === 0 || secret.length > h.block) fail(DeviceError.INVALID_DATA);
          this.create({ ...o, type: ObjectType.HMAC_KEY, origin: put ? Origin.IMPORTED : Origin.GENERATED, secret });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.SIGN_HMAC: {
          this.require(s, Capability.SIGN_HMAC);
          const id = r.u16();
          const data = r.rest();
          const o = this.visible(s, id, ObjectType.HMAC_KEY);
          if ((o.capabilities & Capability.SIGN_HMAC) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
          const h = HMAC[o.algorithm] as { hash: string };
          return this.ok(command, new Uint8Array(createHmac(h.hash, o.secret as Uint8Array).update(data).digest()), id);
        }
        case Command.SIGN_ECDSA: {
          this.require(s, Capability.SIGN_ECDSA);
          const id = r.u16();
          const digest = r.rest();
          const o = this.visible(s, id, ObjectType.ASYMMETRIC_KEY);
          if ((o.capabilities & Capability.SIGN_ECDSA) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
          const ec = SIM_EC[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
          if (![20, 28, 32, 48, 64, ec.bytes].includes(digest.length)) fail(DeviceError.INVALID_DATA);
          const d = ecScalar(o.privateKey as KeyObject, ec.bytes);
          return this.ok(command, signDigest(ec.nodeCurve, d, digest), id);
        }
        case Command.SIGN_PKCS1:
          return this.keyOp(command, signPkcs1(this.wrapHost(s), r));
        case Command.SIGN_PSS:
          return this.keyOp(command, signPss(this.wrapHost(s), r));
        case Command.DECRYPT_PKCS1:
          return this.keyOp(command, decryptPkcs1(this.wrapHost(s), r));
        case Command.DECRYPT_OAEP:
          return this.keyOp(command, decryptOaep(this.wrapHost(s), r));
        case Command.DERIVE_ECDH:
          return this.keyOp(command, deriveEcdh(this.wrapHost(s), r));
        case Command.PUT_OTP_AEAD_KEY:
        case Command.GENERATE_OTP_AEAD_KEY:
          return this.keyOp(command, putOtpAeadKey(this.wrapHost(s), r, command === Command.GENERATE_OTP_AEAD_KEY));
        case Command.CREATE_OTP_AEAD:
        case Command.RANDOMIZE_OTP_AEAD:
          return this.keyOp(command, createOtpAead(this.wrapHost(s), r, command === Command.RANDOMIZE_OTP_AEAD));
        case Command.REWRAP_OTP_AEAD:
          return this.wrapped(command, rewrapOtpAead(this.wrapHost(s), r));
        case Command.DECRYPT_OTP:
          return this.keyOp(command, decryptOtp(this.wrapHost(s), r));
        case Command.SIGN_ATTESTATION_CERTIFICATE: {
          const id = r.u16();
          const attesting = r.u16();
          expectEnd(r);
          const host = { ...this.wrapHost(s), serial: this.serial, version: this.version };
          const key = this.visible(s, id, ObjectType.ASYMMETRIC_KEY);
          const spki = new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' }));
          return this.ok(command, signAttestationCertificate(host, id, attesting, spki), id, attesting);
        }
        case Command.SIGN_EDDSA: {
          this.require(s, Capability.SIGN_EDDSA);
          const id = r.u16();
          const data = r.rest();
          const o = this.visible(s, id, ObjectType.ASYMMETRIC_KEY);
          if ((o.capabilities & Capability.SIGN_EDDSA) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
          if (o.algorithm !== Algorithm.EC_ED25519) fail(DeviceError.INVALID_DATA);
          return this.ok(command, new Uint8Array(sign(null, data, o.privateKey as KeyObject)), id);
        }
        case Command.GET_PUBLIC_KEY: {
          const id = r.u16();
          const type = r.remaining > 0 ? r.u8() : ObjectType.ASYMMETRIC_KEY;
          expectEnd(r);
          if (type !== ObjectType.ASYMMETRIC_KEY && type !== ObjectType.PUBLIC_WRAP_KEY && type !== ObjectType.WRAP_KEY) fail(DeviceError.INVALID_DATA);
          const o = this.visible(s, id, type);
          if (!o.publicKey) fail(DeviceError.INVALID_DATA);
          return this.ok(command, concat(u8(o.algorithm), rawPublic(o)), id);
        }
        case Command.PUT_PUBLIC_WRAP_KEY: {
          if (!this.atLeast24()) fail(DeviceError.INVALID_COMMAND);
          this.require(s, Capability.PUBLIC_WRAP_KEY_WRITE);
          const o = this.newObject(s, r, ObjectType.PUBLIC_WRAP_KEY, true);
          const bits = RSA_ALGORITHMS[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
          const modulus = r.rest();
          if (modulus.length !== bits / 8 || ((modulus[0] as number) & 0x80) === 0) fail(DeviceError.INVALID_DATA);
          this.create({ ...o, type: ObjectType.PUBLIC_WRAP_KEY, origin: Origin.IMPORTED, publicKey: publicKeyFromRaw(o.algorithm, modulus) });
          return this.ok(command, u16(o.id), o.id);
        }
        case Command.WRAP_KEY_RSA:
          return this.wrapKeyRsa(s, r);
        case Command.PUT_WRAP_KEY:
          return this.wrapped(command, putWrapKey(this.wrapHost(s), r));
        case Command.EXPORT_WRAPPED:
          return this.wrapped(command, exportWrapped(this.wrapHost(s), r));
        case Command.IMPORT_WRAPPED:
          return this.wrapped(command, importWrapped(this.wrapHost(s), r));
        case Command.WRAP_DATA:
        case Command.UNWRAP_DATA:
          return this.wrapped(command, wrapData(this.wrapHost(s), r, command === Command.UNWRAP_DATA));
        case Command.UNWRAP_KEY_RSA:
          return this.wrapped(command, unwrapKeyRsa(this.wrapHost(s), r));
        case Command.EXPORT_WRAPPED_RSA:
          return this.wrapped(command, exportWrappedRsa(this.wrapHost(s), r));
        case Command.IMPORT_WRAPPED_RSA:
          return this.wrapped(command, importWrappedRsa(this.wrapHost(s), r));
        case Command.VERIFY_HMAC: {
          this.require(s, Capability.VERIFY_HMAC);
          const id = r.u16();
          const o = this.visible(s, id, ObjectType.HMAC_KEY);
          if ((o.capabilities & Capability.VERIFY_HMAC) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
          const h = HMAC[o.algorithm] as { hash: string };
          const mac = createHmac(h.hash, o.secret as Uint8Array);
          const signature = r.bytes(createHash(h.hash).digest().length);
          const expected = new Uint8Array(mac.update(r.rest()).digest());
          return this.ok(command, u8(equalBytes(expected, signature) ? 1 : 0), id);
        }
        case Command.RESET_DEVICE:
          this.require(s, Capability.RESET_DEVICE);
          expectEnd(r);
          return this.ok(command, undefined, 0xffff, 0xffff, () => this.factoryReset());
        case Command.GET_LOG_ENTRIES: {
          this.require(s, Capability.GET_LOG_ENTRIES);
          expectEnd(r);
          const entries = this.log.map(encodeLogEntry);
          return this.ok(command, concat(u16(this.unloggedBoot), u16(this.unloggedAuth), u8(entries.length), ...entries));
        }
        case Command.SET_LOG_INDEX: {
          this.require(s, Capability.GET_LOG_ENTRIES);
          const index = r.u16();
          expectEnd(r);
          const at = this.log.findIndex((e) => e.number === index);
          if (at < 0) fail(DeviceError.INVALID_DATA);
          this.log.splice(0, at + 1);
          this.unloggedBoot = 0;
          this.unloggedAuth = 0;
          return this.ok(command);
        }
        case Command.SET_OPTION:
          this.require(s, Capability.SET_OPTION);
          this.setOption(r);
          return this.ok(command);
        case Command.GET_OPTION:
          this.require(s, Capability.GET_OPTION);
          return this.ok(command, this.getOption(r));
        default:
          return fail(DeviceError.INVALID_COMMAND);
      }
    });
  }

  /** ENCRYPT/DECRYPT ECB and CBC with an AES key: whole blocks only, no padding; CBC takes a 16-byte IV first. */
  private aesBlock(s: SimSession, command: number, r: Reader): Outcome {
    const mode = { [Command.ENCRYPT_ECB]: ['ecb', Capability.ENCRYPT_ECB], [Command.DECRYPT_ECB]: ['ecb', Capability.DECRYPT_ECB], [Command.ENCRYPT_CBC]: ['cbc', Capability.ENCRYPT_CBC], [Command.DECRYPT_CBC]: ['cbc', Capability.DECRYPT_CBC] }[command] as [string, bigint];
    const [name, capability] = mode;
    this.require(s, capability);
    const id = r.u16();
    const iv = name === 'cbc' ? r.bytes(16) : null;
    const data = r.rest();
    const o = this.visible(s, id, ObjectType.SYMMETRIC_KEY);
    if ((o.capabilities & capability) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    if (data.length === 0 || data.length % 16 !== 0) fail(DeviceError.INVALID_DATA);
    const key = o.secret as Uint8Array;
    const encrypt = command === Command.ENCRYPT_ECB || command === Command.ENCRYPT_CBC;
    const c = (encrypt ? createCipheriv : createDecipheriv)(`aes-${key.length * 8}-${name}`, key, iv).setAutoPadding(false);
    return this.ok(command, new Uint8Array(Buffer.concat([c.update(data), c.final()])), id);
  }

  private keyOp(command: number, result: { body: Uint8Array; target: number }): Outcome {
    return this.ok(command, result.body, result.target);
  }

  private wrapped(command: number, result: WrapResult): Outcome {
    return this.ok(command, result.body, result.target, result.second ?? 0xffff);
  }

  /** What the wrap commands (wrap-commands.ts) may do inside this session. */
  private wrapHost(s: SimSession): WrapHost {
    return {
      require: (capability) => this.require(s, capability),
      visible: (id, type) => this.visible(s, id, type),
      newObject: (r, type, withDelegated) => this.newObject(s, r, type, withDelegated),
      storeImported: (o) => {
        const auth = this.authKey(s);
        if (o.domains === 0 || o.id === 0 || o.id === 0xffff) fail(DeviceError.INVALID_DATA);
        if ((o.domains & ~auth.domains) !== 0) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
        if (this.objects.has(this.key(o.id, o.type))) fail(DeviceError.OBJECT_EXISTS);
        if (this.objects.size >= MAX_OBJECTS) fail(DeviceError.STORAGE_FAILED);
        // MODEL: the sequence counts this device's re-creations of the id, as for any new object.
        const { sequence: _ignored, ...rest } = o;
        return this.create(rest);
      },
      create: (o) => this.create(o),
      version: this.version,
    };
  }

  private listObjects(s: SimSession, r: Reader): Uint8Array {
    const auth = this.authKey(s);
    const filters: ((o: SimObject) => boolean)[] = [];
    while (r.remaining > 0) {
      const tag = r.u8();
      switch (tag) {
        case ListFilter.ID: {
          const v = r.u16();
          filters.push((o) => o.id === v);
          break;
        }
        case ListFilter.TYPE: {
          const v = r.u8();
          filters.push((o) => o.type === v);
          break;
        }
        case ListFilter.DOMAINS: {
          const v = r.u16();
          filters.push((o) => (o.domains & v) !== 0);
          break;
        }
        case ListFilter.CAPABILITIES: {
          const v = r.u64();
          filters.push((o) => (o.capabilities & v) !== 0n);
          break;
        }
        case ListFilter.ALGORITHM: {
          const v = r.u8();
          filters.push((o) => o.algorithm === v);
          break;
        }
        case ListFilter.LABEL: {
          const v = unpackLabel(r.bytes(40));
          filters.push((o) => o.label === v);
          break;
        }
        default:
          fail(DeviceError.INVALID_DATA);
      }
    }
    const found = [...this.objects.values()].filter((o) => (o.domains & auth.domains) !== 0 && filters.every((f) => f(o)));
    return concat(...found.map((o) => concat(u16(o.id), u8(o.type), u8(o.sequence))));
  }

  private wrapKeyRsa(s: SimSession, r: Reader): Outcome {
    if (!this.atLeast24()) fail(DeviceError.INVALID_COMMAND);
    const wrapId = r.u16();
    const type = r.u8();
    const objectId = r.u16();
    const aesAlgorithm = r.u8();
    const oaep = OAEP_HASH[r.u8()] ?? fail(DeviceError.INVALID_DATA);
    const mgf = MGF_HASH[r.u8()] ?? fail(DeviceError.INVALID_DATA);
    const labelDigest = r.rest();
    if (labelDigest.length !== createHash(oaep).digest().length) fail(DeviceError.INVALID_DATA);
    const aesLength = AES_LENGTH[aesAlgorithm] ?? fail(DeviceError.INVALID_DATA);
    this.require(s, Capability.EXPORT_WRAPPED);
    const wrap = this.visible(s, wrapId, ObjectType.PUBLIC_WRAP_KEY);
    const target = this.visible(s, objectId, type);
    if (type !== ObjectType.ASYMMETRIC_KEY && type !== ObjectType.SYMMETRIC_KEY) fail(DeviceError.INVALID_DATA);
    if ((wrap.capabilities & Capability.EXPORT_WRAPPED) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    if ((target.capabilities & Capability.EXPORTABLE_UNDER_WRAP) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    // The wrap key may only carry out objects whose capabilities it was delegated.
    if ((target.capabilities & ~wrap.delegatedCapabilities) !== 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
    const material =
      type === ObjectType.ASYMMETRIC_KEY
        ? new Uint8Array((target.privateKey as KeyObject).export({ type: 'pkcs8', format: 'der' }))
        : (target.secret as Uint8Array);
    const aesKey = randomBytes(aesLength);
    const kwp = createCipheriv(`id-aes${aesLength * 8}-wrap-pad`, aesKey, Buffer.from('a65959a6', 'hex'));
    const wrapped = Buffer.concat([kwp.update(material), kwp.final()]);
    const encryptedKey = oaepEncrypt(wrap.publicKey as KeyObject, aesKey, mgf, labelDigest);
    return this.ok(Command.WRAP_KEY_RSA, concat(encryptedKey, wrapped), wrapId, objectId);
  }

  private setOption(r: Reader): void {
    const option = r.u8();
    const length = r.u16();
    const value = r.bytes(length);
    expectEnd(r);
    if (option === DeviceOption.FORCE_AUDIT) {
      if (value.length !== 1 || (value[0] as number) > AuditSetting.FIXED) fail(DeviceError.INVALID_DATA);
      if (this.forceAudit === AuditSetting.FIXED) fail(DeviceError.INVALID_DATA);
      this.forceAudit = value[0] as number;
    } else if (option === DeviceOption.COMMAND_AUDIT) {
      if (value.length % 2 !== 0) fail(DeviceError.INVALID_DATA);
      for (let i = 0; i < value.length; i += 2) {
        const cmd = value[i] as number;
        const v = value[i + 1] as number;
        if (v > AuditSetting.FIXED || NEVER_LOGGED.has(cmd)) fail(DeviceError.INVALID_DATA);
        if (this.commandAudit.get(cmd) !== AuditSetting.FIXED) this.commandAudit.set(cmd, v);
      }
    } else fail(DeviceError.INVALID_DATA);
  }

  private getOption(r: Reader): Uint8Array {
    const option = r.u8();
    expectEnd(r);
    if (option === DeviceOption.FORCE_AUDIT) return u8(this.forceAudit);
    if (option === DeviceOption.COMMAND_AUDIT) {
      const cmds = Object.values(Command).filter((c) => !NEVER_LOGGED.has(c));
      return concat(...cmds.map((c) => Uint8Array.of(c, this.commandAudit.get(c) ?? AuditSetting.OFF)));
    }
    return fail(DeviceError.INVALID_DATA);
  }
}

function errorFrame(code: number): Uint8Array {
  return encodeFrame(Command.ERROR, u8(code));
}

function expectEnd(r: Reader): void {
  if (r.remaining !== 0) fail(DeviceError.WRONG_LENGTH);
}

function guessTarget(command: number, payload: Uint8Array): number {
  const idFirst: number[] = [Command.GET_OBJECT_INFO, Command.DELETE_OBJECT, Command.GET_OPAQUE, Command.ENCRYPT_ECB, Command.DECRYPT_ECB, Command.ENCRYPT_CBC, Command.DECRYPT_CBC, Command.SIGN_ECDSA, Command.DECRYPT_OTP, Command.CREATE_OTP_AEAD, Command.RANDOMIZE_OTP_AEAD, Command.REWRAP_OTP_AEAD, Command.SIGN_EDDSA, Command.SIGN_PKCS1, Command.SIGN_PSS, Command.DECRYPT_PKCS1, Command.DECRYPT_OAEP, Command.DERIVE_ECDH, Command.SIGN_HMAC, Command.GET_PUBLIC_KEY, Command.WRAP_KEY_RSA, Command.VERIFY_HMAC, Command.EXPORT_WRAPPED, Command.IMPORT_WRAPPED, Command.WRAP_DATA, Command.UNWRAP_DATA, Command.UNWRAP_KEY_RSA, Command.EXPORT_WRAPPED_RSA, Command.IMPORT_WRAPPED_RSA];
  return idFirst.includes(command) && payload.length >= 2 ? ((payload[0] as number) << 8) | (payload[1] as number) : 0xffff;
}

function objectInfo(o: SimObject): Uint8Array {
  return concat(u64(o.capabilities), u16(o.id), u16(objectSize(o)), u16(o.domains), u8(o.type), u8(o.algorithm), u8(o.sequence), u8(o.origin), packLabel(o.label), u64(o.delegatedCapabilities));
}

/** MODEL: the device reports its internal storage size; 40 for an authentication key is documented, the rest are the key lengths. */
function objectSize(o: SimObject): number {
  if (o.type === ObjectType.AUTHENTICATION_KEY) return 40;
  if (o.secret) return o.secret.length;
  const rsa = RSA_ALGORITHMS[o.algorithm];
  if (rsa) return rsa / 8;
  if (o.algorithm === Algorithm.EC_ED25519) return 32;
  const ec = SIM_EC[o.algorithm];
  return ec ? ec.bytes : 0;
}

function generateAsymmetric(algorithm: number): { privateKey: KeyObject; publicKey: KeyObject } {
  const bits = RSA_ALGORITHMS[algorithm];
  if (bits) return generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  if (algorithm === Algorithm.EC_ED25519) return generateKeyPairSync('ed25519');
  const ec = SIM_EC[algorithm] ?? fail(DeviceError.INVALID_DATA);
  return generateKeyPairSync('ec', { namedCurve: ec.nodeCurve });
}

function rawPublic(o: SimObject): Uint8Array {
  const key = o.publicKey as KeyObject;
  const ec = SIM_EC[o.algorithm];
  // EC through DER: node's JWK has no P-224 or Brainpool.
  if (ec) return ecPoint(key, ec.bytes);
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from((jwk.kty === 'RSA' ? jwk.n : jwk.x) ?? '', 'base64url'));
}
