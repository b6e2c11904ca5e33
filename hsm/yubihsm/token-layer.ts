// A YubiHSM 2 behind the same token interface as PKCS#11 (hsm/token.ts). See docs/yubihsm.md, "Behind the
// token interface", for every rule: modules and slots, roles, templates, attributes, what is refused.
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { ErrorCodes, TokenError } from '../errors.js';
import { parsePkcs11Uri, uriMatches, type UriMatchTarget } from '../uri.js';
import type { TokenLayer } from '../token.js';
import type {
  AttributeName,
  AttributeValue,
  Bytes,
  DataObjectTemplate,
  HashName,
  KeyPairHandles,
  KeyPairSpec,
  KmsCapability,
  MechanismInfo,
  ModuleConfig,
  ModuleStatus,
  ObjectHandle,
  ObjectQuery,
  OpenSessionOptions,
  OpenedSession,
  PrivateKeyTemplate,
  PublicKeyObjectTemplate,
  PublicKeyTemplate,
  SecretKeySpec,
  SecretKeyTemplate,
  SessionHandle,
  SessionTarget,
  SignMechanism,
  SlotInfo,
  SlotRef,
  TokenInfo,
  UserType,
  WrapMechanism,
} from '../types.js';
import { hex } from './bytes.js';
import * as cmd from './commands.js';
import { ALL_CAPABILITIES, Algorithm, AuditSetting, Command, ObjectType, capabilities, commandName, type ObjectTypeCode } from './constants.js';
import { YubiHsmErrorCodes, unplugged } from './errors.js';
import { EC_ALGORITHMS } from './keys.js';
import type { LogEntry } from './log.js';
import { entriesSince, entryData } from './log-since.js';
import { exportUnderDomainWrapKey, importUnderDomainWrapKey } from './domain-wrap.js';
import { importAesUnderDomainRsaWrapKey } from './domain-rsa-unwrap.js';
import type { DeviceLogCursor, DeviceLogSlice } from '../device-log.js';
import type { DeviceObject, DeviceObjectQuery } from '../device-objects.js';
import { deviceObjectAt, listDeviceObjects } from './device-objects.js';
import { YubiHsm, atLeast, type YubiHsmSession } from './session.js';
import type { YubiHsmTransport } from './transport.js';
import { HttpConnectorTransport } from './transport-http.js';
import { WebUsbTransport, type UsbLike } from './transport-usb.js';
import {
  ADMIN_AUTH_KEY_ID,
  ADMIN_AUTH_KEY_LABEL,
  ADMIN_CAPABILITIES,
  DOMAINS,
  EC_ALGORITHM,
  FACTORY_AUTH_KEY_ID,
  FACTORY_PASSWORD,
  LABEL_OBJECT_ID,
  LABEL_OBJECT_LABEL,
  NEEDS_PUBLIC,
  OBJECT_CAPABILITIES,
  OPERATOR_AUTH_KEY_ID,
  OPERATOR_AUTH_KEY_LABEL,
  OPERATOR_CAPABILITIES,
  RSA_ALGORITHM,
  TYPES_OF_CLASS,
  aesCmacWith,
  attributeOf,
  checkLabel,
  classOf,
  decodeHandle,
  derSignatureToRaw,
  encodeHandle,
  objectIdFromCkaId,
  privateKeyCapabilities,
  secretKeyCapabilities,
  yubiHsmKmsCapabilities,
  yubiHsmMechanisms,
  type ObjectAddress,
  type PublicParts,
} from './token-layer-map.js';

export const YUBIHSM_MODULE_PREFIX = 'yubihsm:';
export const YUBIHSM_USB_MODULE = 'yubihsm:usb';

/** Commands the device's own log records once initToken has run (state changes and key use; not reads). */
export const AUDITED_COMMANDS: readonly number[] = [
  Command.CREATE_SESSION,
  Command.AUTHENTICATE_SESSION,
  Command.RESET_DEVICE,
  Command.PUT_OPAQUE,
  Command.PUT_AUTHENTICATION_KEY,
  Command.PUT_ASYMMETRIC_KEY,
  Command.GENERATE_ASYMMETRIC_KEY,
  Command.SIGN_PKCS1,
  Command.DECRYPT_PKCS1,
  Command.EXPORT_WRAPPED,
  Command.IMPORT_WRAPPED,
  Command.PUT_WRAP_KEY,
  Command.SET_OPTION,
  Command.PUT_HMAC_KEY,
  Command.SIGN_HMAC,
  Command.SIGN_PSS,
  Command.SIGN_ECDSA,
  Command.DERIVE_ECDH,
  Command.DELETE_OBJECT,
  Command.DECRYPT_OAEP,
  Command.GENERATE_HMAC_KEY,
  Command.GENERATE_WRAP_KEY,
  Command.SET_LOG_INDEX,
  Command.CHANGE_AUTHENTICATION_KEY,
  Command.PUT_SYMMETRIC_KEY,
  Command.GENERATE_SYMMETRIC_KEY,
  Command.ENCRYPT_ECB,
  Command.DECRYPT_ECB,
  Command.PUT_PUBLIC_WRAP_KEY,
  Command.WRAP_KEY_RSA,
];

export interface YubiHsmTokenLayerOptions {
  /**
   * Transports per module id instead of USB or HTTP, e.g. `{ 'yubihsm:sim': () => [new SimulatorTransport(sim)] }`
   * for the simulator in tests and demos. A module id listed here may be configured like any other.
   */
  transports?: Record<string, () => YubiHsmTransport[] | Promise<YubiHsmTransport[]>>;
  /** node-usb's WebUSB object (default: loaded on first use of `yubihsm:usb`). */
  usb?: () => Promise<UsbLike>;
  /** How often a logged-in session is kept alive (ECHO inside the session): the device drops idle sessions after 30 s. */
  keepAliveMs?: number;
  /** Pauses between attempts to reach the device again after RESET_DEVICE (it reboots). */
  reconnectDelaysMs?: number[];
  /**
   * Labels this laptop learned (initToken, a login), kept across restarts: the device shows nothing, not even
   * its label, before a login, yet choosing a token and finding its transcript chain happen before the login.
   */
  labels?: LabelMemory;
}

/** Where a device's label is remembered by serial (src-main/tokens/yubihsm-labels.ts keeps it in the data directory). */
export interface LabelMemory {
  recall(serial: string): string | undefined;
  remember(serial: string, label: string): void;
}

/** One device = one slot. */
interface Device {
  moduleId: string;
  serial: string;
  hsm: YubiHsm;
  /** Reach the device again (after a reset reboots it, or a replug). */
  reconnect: () => Promise<YubiHsmTransport>;
  description: string;
  /** What this process has learned about the device; the device reveals nothing without a session. */
  known: { factory?: boolean; label?: string; operatorKey?: boolean };
  login?: { userType: UserType; yh: YubiHsmSession; keepAlive?: ReturnType<typeof setInterval> };
  sessions: Set<SessionHandle>;
  /** Unplugged (or the connector lost it): sessions opened before are dead; listSlots tries to reach it again. */
  gone: boolean;
  /** Increases each time the device is reached again after being gone; sessions remember theirs. */
  generation: number;
  /** The device went away while logged in (the login cannot come back without the PIN). */
  lostLogin?: boolean;
}

interface Module {
  config: ModuleConfig;
  status: ModuleStatus;
  devices: Map<string, Device>;
}

interface Session {
  device: Device;
  generation: number;
  readWrite: boolean;
  /** Objects made with token: false: deleted when the session closes (the device has no session objects). */
  temporary: Set<string>;
  /** The device went away while this session was logged in: after a replug it cannot go on. */
  lostLogin?: boolean;
}

/** Entries of the device's audit log, chain verified, in plain data for the transcript. */
export interface DeviceLog {
  serial: string;
  unloggedBoot: number;
  unloggedAuth: number;
  entries: (LogEntry & { commandName: string; digestHex: string })[];
}

const notLoggedIn = (d: Device) =>
  new TokenError(
    'CKR_USER_NOT_LOGGED_IN',
    `The YubiHSM (serial ${d.serial}) does everything, even random numbers, inside an authenticated session: log in first.`,
    'Log in as the user (operator key) or SO (admin key), then repeat the step.',
  );

function asTokenError(e: unknown, what: string): TokenError {
  if (e instanceof TokenError) return e;
  return new TokenError('YUBIHSM_FAILED', `${what} failed: ${e instanceof Error ? e.message : String(e)}.`, 'Check the YubiHSM connection and try again.');
}

/**
 * The device went away (USB unplugged, or the connector lost it). Before a login, Retry after the replug
 * simply works; a login ends with the device, and the layer keeps no PIN to restore it.
 */
const unpluggedError = (d: Device, lostLogin = d.lostLogin === true) =>
  new TokenError(
    // A lost login is reported as such: whoever holds the session must log in again (a ceremony resumes).
    lostLogin ? 'CKR_USER_NOT_LOGGED_IN' : 'CKR_DEVICE_REMOVED',
    lostLogin
      ? `YubiHSM 2 serial ${d.serial} was unplugged: its login ended with it, and the step that was running did not complete.`
      : `YubiHSM 2 serial ${d.serial} was unplugged: plug it back in and press Retry.`,
    lostLogin
      ? 'Plug it back in. The login cannot come back by itself: a ceremony past its quorum login stops, and is resumed from Home with the custodians logging in again.'
      : 'After the replug the next operation opens a new session on the device; the step that was running did not complete, so run it again.',
  );

/** A session opened before an unplug, used after the replug: the device is back, the session is not. */
const staleSessionError = (d: Device) =>
  new TokenError(
    d.lostLogin ? 'CKR_USER_NOT_LOGGED_IN' : 'CKR_DEVICE_REMOVED',
    `YubiHSM 2 serial ${d.serial} is plugged in again, but this session ended when it was unplugged${d.lostLogin ? ', and its login with it' : ''}.`,
    d.lostLogin ? 'Open a new session and log in again; a ceremony past its quorum login is resumed from Home.' : 'Open a new session (choose the token again) and repeat the step.',
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class YubiHsmTokenLayer implements TokenLayer {
  private modules = new Map<string, Module>();
  private sessions = new Map<SessionHandle, Session>();
  private nextSession = 1;
  private usbPromise: Promise<UsbLike> | undefined;

  constructor(private readonly options: YubiHsmTokenLayerOptions = {}) {}

  // ------------------------------------------------------------------ modules and slots

  async configureModules(configs: ModuleConfig[]): Promise<ModuleStatus[]> {
    await this.closeAll();
    for (const config of configs) {
      if (typeof config?.path !== 'string' || !config.path.startsWith(YUBIHSM_MODULE_PREFIX))
        throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `modules[].path "${String(config?.path)}" is not a YubiHSM module (yubihsm:usb or yubihsm:http://127.0.0.1:PORT)`);
      const status: ModuleStatus = { id: config.path, path: config.path, source: config.source ?? 'user', loaded: false };
      const m: Module = { config, status, devices: new Map() };
      this.modules.set(config.path, m);
      try {
        await this.discover(m);
        status.loaded = true;
        status.library = { manufacturer: 'Yubico', description: this.moduleDescription(config.path), cryptokiVersion: 'n/a (YubiHSM protocol)', libraryVersion: 'keyceremony' };
      } catch (e) {
        const err = asTokenError(e, `Opening ${config.path}`);
        if (err.code === YubiHsmErrorCodes.CONNECTOR_UNREACHABLE) {
          // The connector may simply not be running yet: the entry stands, and the token list asks again
          // (and says why there is nothing) until it answers.
          status.loaded = true;
          status.library = { manufacturer: 'Yubico', description: this.moduleDescription(config.path), cryptokiVersion: 'n/a (YubiHSM protocol)', libraryVersion: 'keyceremony' };
          continue;
        }
        status.error = { code: err.code, message: err.message, ...(err.remedy ? { remedy: err.remedy } : {}) };
      }
    }
    return this.listModules();
  }

  async listModules(): Promise<ModuleStatus[]> {
    return [...this.modules.values()].map((m) => structuredClone(m.status));
  }

  async listSlots(moduleId: string): Promise<SlotInfo[]> {
    const m = this.module(moduleId);
    if (moduleId === YUBIHSM_USB_MODULE && !this.options.transports?.[moduleId]) await this.discover(m);
    // A connector that was not reachable when the list was loaded: ask it again (its error says why not).
    else if (m.devices.size === 0) await this.discover(m);
    const out: SlotInfo[] = [];
    for (const d of m.devices.values()) {
      if (d.gone) await this.reach(d);
      const slot: SlotInfo = { moduleId, slotId: d.serial, description: d.description, manufacturer: 'Yubico', tokenPresent: !d.gone, removable: true, hardware: true };
      if (!d.gone) {
        try {
          // Is it still there? TokenInfo may come from what this process learned without a word to the
          // device; an ECHO (never logged) makes a device that left (or a connector that went away) show.
          await d.hsm.echo(Uint8Array.of(0));
          slot.token = await this.tokenInfo(d);
        } catch (e) {
          if (!this.noteGone(d, e)) throw asTokenError(e, `Reading the YubiHSM (serial ${d.serial})`);
          slot.tokenPresent = false;
          delete slot.token;
        }
      }
      out.push(slot);
    }
    return out;
  }

  async listMechanisms(slot: SlotRef): Promise<MechanismInfo[]> {
    const d = this.device(slot);
    return yubiHsmMechanisms(this.firmware24(d));
  }

  /**
   * The KMS wrapping answer for this device. The inventory should prefer this to probeKmsCapabilities
   * (hsm/capabilities.ts), which probes PKCS#11 mechanisms the device does not have.
   */
  async kmsCapabilities(slot: SlotRef): Promise<KmsCapability[]> {
    const d = this.device(slot);
    return yubiHsmKmsCapabilities(d.hsm.info?.version ?? { major: 0, minor: 0, patch: 0 });
  }

  // ------------------------------------------------------------------ initialisation and roles

  /**
   * Erase the device and set it up: factory reset (through the admin key and `soPin` when the device is
   * already ours; a factory-fresh device is used as it is), admin key 2 (password soPin), command audit
   * on, the label object, and the factory key 1 deleted.
   */
  async initToken(slot: SlotRef, soPin: string, label: string): Promise<void> {
    const d = this.device(slot);
    if (d.gone) await this.reach(d);
    if (d.sessions.size > 0)
      throw new TokenError('CKR_SESSION_EXISTS', `The YubiHSM (serial ${d.serial}) has open sessions; it cannot be initialised now.`, 'Close every session on it first.');
    if (typeof soPin !== 'string' || soPin === '') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'soPin must be a non-empty string');
    checkLabel(label);
    d.known = {};
    try {
      let factory = await this.tryOpen(d, FACTORY_AUTH_KEY_ID, FACTORY_PASSWORD);
      if (!factory) {
        let admin: YubiHsmSession;
        try {
          admin = await d.hsm.openSession(ADMIN_AUTH_KEY_ID, soPin);
        } catch (e) {
          if (e instanceof TokenError && (e.code === YubiHsmErrorCodes.WRONG_PASSWORD || e.code === 'YUBIHSM_OBJECT_NOT_FOUND'))
            throw new TokenError(
              'CKR_PIN_INCORRECT',
              `The YubiHSM (serial ${d.serial}) is initialised and the SO PIN does not open its admin key, so it cannot be erased from here.`,
              'Enter the SO PIN it was initialised with, or reset it by hand: hold its touch sensor for 10 seconds while plugging it in.',
            );
          throw e;
        }
        await cmd.resetDevice(admin);
        await this.afterReset(d);
        factory = await this.reopenFactory(d);
      } else if ((await cmd.listObjects(factory)).some((o) => !(o.type === ObjectType.AUTHENTICATION_KEY && o.id === FACTORY_AUTH_KEY_ID))) {
        // Key 1 still opens but the device holds other objects: an initialisation that was interrupted, or
        // someone else's objects. initToken erases the token, so: reset with key 1 (it may do everything).
        await cmd.resetDevice(factory);
        await this.afterReset(d);
        factory = await this.reopenFactory(d);
      }
      try {
        await cmd.putAuthenticationKey(factory, {
          id: ADMIN_AUTH_KEY_ID,
          label: ADMIN_AUTH_KEY_LABEL,
          domains: DOMAINS,
          capabilities: ADMIN_CAPABILITIES,
          delegatedCapabilities: ALL_CAPABILITIES,
          credential: soPin,
        });
      } finally {
        await factory.close().catch(() => undefined);
      }
      const admin = await d.hsm.openSession(ADMIN_AUTH_KEY_ID, soPin);
      try {
        await cmd.setCommandAudit(admin, new Map(AUDITED_COMMANDS.map((c) => [c, AuditSetting.FIXED])));
        await cmd.putOpaque(admin, { id: LABEL_OBJECT_ID, label: LABEL_OBJECT_LABEL, domains: DOMAINS, capabilities: 0n, data: label === '' ? Uint8Array.of(0) : new TextEncoder().encode(label) });
        await cmd.deleteObject(admin, FACTORY_AUTH_KEY_ID, ObjectType.AUTHENTICATION_KEY);
      } finally {
        await admin.close().catch(() => undefined);
      }
      d.known = { factory: false, label, operatorKey: false };
      this.options.labels?.remember(d.serial, label);
    } catch (e) {
      d.known = {};
      if (this.noteGone(d, e)) throw unpluggedError(d);
      throw asTokenError(e, `Initialising the YubiHSM (serial ${d.serial})`);
    }
  }

  async openSession(target: SessionTarget, options: OpenSessionOptions): Promise<OpenedSession> {
    const d = 'uri' in target ? await this.resolveUri(target.uri) : this.device(target);
    // Replugged since it went away: reach it now rather than waiting for the next token list.
    if (d.gone) await this.reach(d);
    const handle = `yubihsm-session-${this.nextSession++}`;
    if (d.gone) throw unpluggedError(d, false);
    this.sessions.set(handle, { device: d, generation: d.generation, readWrite: options?.readWrite === true, temporary: new Set() });
    d.sessions.add(handle);
    try {
      return { session: handle, moduleId: d.moduleId, slotId: d.serial, token: await this.tokenInfo(d) };
    } catch (e) {
      this.sessions.delete(handle);
      d.sessions.delete(handle);
      if (this.noteGone(d, e)) throw unpluggedError(d, false);
      throw asTokenError(e, `Opening a session on the YubiHSM (serial ${d.serial})`);
    }
  }

  async closeSession(session: SessionHandle): Promise<void> {
    const s = this.session(session, true);
    try {
      if (s.temporary.size > 0 && s.device.login && s.generation === s.device.generation && !s.device.gone) {
        for (const h of s.temporary) await this.deleteAddress(s.device.login.yh, decodeHandle(h)).catch(() => undefined);
      }
    } finally {
      s.device.sessions.delete(session);
      this.sessions.delete(session);
      // PKCS#11: closing the last session logs the token out.
      if (s.device.sessions.size === 0) await this.endLogin(s.device);
    }
  }

  /** Login is per device, as in PKCS#11 (all sessions on the token share it): one authenticated device session. */
  async login(session: SessionHandle, userType: UserType, pin: string): Promise<void> {
    const gone = this.sessions.get(session)?.device;
    if (gone?.gone) await this.reach(gone);
    const s = this.session(session);
    if (userType !== 'user' && userType !== 'so') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `userType "${String(userType)}" must be "user" or "so"`);
    if (typeof pin !== 'string') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'pin must be a string');
    const d = s.device;
    if (d.login) {
      throw new TokenError(
        d.login.userType === userType ? 'CKR_USER_ALREADY_LOGGED_IN' : 'CKR_USER_ANOTHER_ALREADY_LOGGED_IN',
        `The YubiHSM (serial ${d.serial}) is already logged in as ${d.login.userType === 'so' ? 'SO' : 'user'}.`,
        'Log out first.',
      );
    }
    const keyId = userType === 'so' ? ADMIN_AUTH_KEY_ID : OPERATOR_AUTH_KEY_ID;
    const who = userType === 'so' ? 'SO (admin authentication key 2)' : 'user (operator authentication key 3)';
    let yh: YubiHsmSession;
    try {
      yh = await d.hsm.openSession(keyId, pin);
    } catch (e) {
      if (this.noteGone(d, e)) throw unpluggedError(d);
      if (e instanceof TokenError && e.code === YubiHsmErrorCodes.WRONG_PASSWORD)
        throw new TokenError('CKR_PIN_INCORRECT', `The YubiHSM (serial ${d.serial}) did not accept the ${who} PIN.`, 'Re-enter the PIN. The device does not lock after wrong attempts, but its log records them.');
      if (e instanceof TokenError && e.code === 'YUBIHSM_OBJECT_NOT_FOUND')
        throw userType === 'so'
          ? new TokenError('CKR_USER_PIN_NOT_INITIALIZED', `The YubiHSM (serial ${d.serial}) has no admin key: it has not been initialised by keyceremony.`, 'Initialise the token first.')
          : new TokenError('CKR_USER_PIN_NOT_INITIALIZED', `The YubiHSM (serial ${d.serial}) has no operator key: the user PIN was never set.`, 'Log in as SO and set the user PIN first.');
      throw asTokenError(e, `Logging in to the YubiHSM (serial ${d.serial})`);
    }
    d.login = { userType, yh };
    const every = this.options.keepAliveMs ?? 15_000;
    if (every > 0) {
      const timer = setInterval(() => {
        if (yh.isOpen) void yh.send(Command.ECHO, Uint8Array.of(0)).catch(() => undefined);
      }, every);
      timer.unref?.();
      d.login.keepAlive = timer;
    }
    try {
      const label = await cmd.getOpaque(yh, LABEL_OBJECT_ID).catch(() => undefined);
      // An empty label is stored as one zero byte (an opaque object cannot be empty).
      if (label) d.known.label = label.length === 1 && label[0] === 0 ? '' : new TextDecoder().decode(label);
      if (d.known.label !== undefined) this.options.labels?.remember(d.serial, d.known.label);
      d.known.factory = false;
      if (userType === 'so') d.known.operatorKey = (await cmd.listObjects(yh, { id: OPERATOR_AUTH_KEY_ID, type: ObjectType.AUTHENTICATION_KEY })).length > 0;
      else d.known.operatorKey = true;
    } catch {
      // What we learn here only decorates TokenInfo.
    }
  }

  async logout(session: SessionHandle): Promise<void> {
    const d = this.session(session).device;
    if (!d.login) throw new TokenError('CKR_USER_NOT_LOGGED_IN', `The YubiHSM (serial ${d.serial}) is not logged in.`, 'Nothing to do.');
    await this.endLogin(d);
  }

  async initUserPin(session: SessionHandle, pin: string): Promise<void> {
    if (typeof pin !== 'string' || pin === '') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'pin must be a non-empty string');
    const s = this.session(session);
    const yh = this.loggedIn(s, 'so');
    await this.run(s.device, 'Setting the user PIN', async () => {
      const existing = await cmd.listObjects(yh, { id: OPERATOR_AUTH_KEY_ID, type: ObjectType.AUTHENTICATION_KEY });
      if (existing.length > 0) await cmd.deleteObject(yh, OPERATOR_AUTH_KEY_ID, ObjectType.AUTHENTICATION_KEY);
      await cmd.putAuthenticationKey(yh, {
        id: OPERATOR_AUTH_KEY_ID,
        label: OPERATOR_AUTH_KEY_LABEL,
        domains: DOMAINS,
        capabilities: OPERATOR_CAPABILITIES,
        delegatedCapabilities: OBJECT_CAPABILITIES,
        credential: pin,
      });
      s.device.known.operatorKey = true;
    });
  }

  async setPin(session: SessionHandle, oldPin: string, newPin: string): Promise<void> {
    if (typeof oldPin !== 'string' || typeof newPin !== 'string' || newPin === '')
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'oldPin and newPin must be strings and newPin must not be empty');
    const s = this.session(session);
    const d = s.device;
    if (!d.login) throw notLoggedIn(d);
    const yh = d.login.yh;
    // The device changes a key with no proof of the old password: check it with a session of its own.
    try {
      await (await d.hsm.openSession(yh.authKeyId, oldPin)).close();
    } catch (e) {
      if (e instanceof TokenError && e.code === YubiHsmErrorCodes.WRONG_PASSWORD)
        throw new TokenError('CKR_PIN_INCORRECT', `The old PIN does not open authentication key ${yh.authKeyId} on the YubiHSM (serial ${d.serial}).`, 'Re-enter the old PIN.');
      throw asTokenError(e, 'Checking the old PIN');
    }
    await this.run(d, 'Changing the PIN', () => cmd.changeAuthenticationKey(yh, yh.authKeyId, newPin));
  }

  // ------------------------------------------------------------------ keys

  async generateSecretKey(session: SessionHandle, spec: SecretKeySpec, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const label = checkLabel(template?.label, 'template.label');
    const id = objectIdFromCkaId(template.id);
    const o = { id, label, domains: DOMAINS };
    return this.run(s.device, 'Generating a secret key', async () => {
      let a: ObjectAddress;
      if (spec?.type === 'AES') {
        const algorithm = { 128: Algorithm.AES128, 192: Algorithm.AES192, 256: Algorithm.AES256 }[spec.bits];
        if (!algorithm) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.bits ${String(spec.bits)} must be 128, 192 or 256`);
        if (template.wrap || template.unwrap) {
          const ccm = { 128: Algorithm.AES128_CCM_WRAP, 192: Algorithm.AES192_CCM_WRAP, 256: Algorithm.AES256_CCM_WRAP }[spec.bits];
          const got = await cmd.generateWrapKey(yh, { ...o, capabilities: secretKeyCapabilities('WRAP', template), algorithm: ccm, delegatedCapabilities: OBJECT_CAPABILITIES });
          a = { type: ObjectType.WRAP_KEY, id: got, publicHalf: false };
        } else {
          const got = await cmd.generateSymmetricKey(yh, { ...o, capabilities: secretKeyCapabilities('AES', template), algorithm });
          a = { type: ObjectType.SYMMETRIC_KEY, id: got, publicHalf: false };
        }
      } else if (spec?.type === 'GENERIC_SECRET') {
        if (!Number.isInteger(spec.bytes) || spec.bytes < 1 || spec.bytes > 64)
          throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.bytes ${String(spec.bytes)} must be 1 to 64: a YubiHSM HMAC-SHA256 key is at most one hash block`);
        const got = await cmd.generateHmacKey(yh, { ...o, capabilities: secretKeyCapabilities('HMAC', template), algorithm: Algorithm.HMAC_SHA256 });
        a = { type: ObjectType.HMAC_KEY, id: got, publicHalf: false };
      } else {
        throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.type "${String((spec as { type?: unknown })?.type)}" must be AES or GENERIC_SECRET`);
      }
      return this.issued(s, a, template.token);
    });
  }

  async generateKeyPair(session: SessionHandle, spec: KeyPairSpec, publicTemplate: PublicKeyTemplate, privateTemplate: PrivateKeyTemplate): Promise<KeyPairHandles> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const label = checkLabel(privateTemplate?.label, 'privateTemplate.label');
    if (publicTemplate?.label !== undefined && publicTemplate.label !== label)
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'publicTemplate.label must equal privateTemplate.label: a YubiHSM key pair is one object with one label');
    if (publicTemplate?.wrap || (publicTemplate?.encrypt && spec?.type === 'EC'))
      throw new TokenError('CKR_TEMPLATE_INCONSISTENT', 'The public half of a YubiHSM key pair cannot wrap (or, for EC, encrypt).', 'Set wrap (and encrypt) to false in the public template.');
    let algorithm: number | undefined;
    if (spec?.type === 'RSA') algorithm = RSA_ALGORITHM[spec.bits];
    else if (spec?.type === 'EC') algorithm = EC_ALGORITHM[spec.curve];
    if (algorithm === undefined)
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec ${JSON.stringify(spec)} must be RSA 2048/3072/4096 or EC P-256/P-384/P-521/secp256k1`);
    const capabilities = privateKeyCapabilities(spec.type, privateTemplate);
    const alg = algorithm;
    return this.run(s.device, 'Generating a key pair', async () => {
      const id = await cmd.generateAsymmetricKey(yh, { id: objectIdFromCkaId(privateTemplate.id), label, domains: DOMAINS, capabilities, algorithm: alg });
      const privateKey = this.issued(s, { type: ObjectType.ASYMMETRIC_KEY, id, publicHalf: false }, privateTemplate.token);
      return { privateKey, publicKey: encodeHandle({ type: ObjectType.ASYMMETRIC_KEY, id, publicHalf: true }) };
    });
  }

  /** PUT_PUBLIC_WRAP_KEY: RSA only (the KMS wrapping key); its delegated capabilities say what it may carry out. */
  async createPublicKeyFromSpki(session: SessionHandle, spki: Bytes, template: PublicKeyObjectTemplate): Promise<ObjectHandle> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const label = checkLabel(template?.label, 'template.label');
    if (!(spki instanceof Uint8Array)) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'spki must be bytes (Uint8Array)');
    let key;
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch (e) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spki is not a DER SubjectPublicKeyInfo: ${(e as Error).message}`, 'Check the public key file (the KMS PublicKey, base64-decoded).');
    }
    if (key.asymmetricKeyType !== 'rsa' || !template.wrap || template.verify)
      throw new TokenError(
        'CKR_TEMPLATE_INCONSISTENT',
        'A YubiHSM only holds public keys to wrap to (PUT_PUBLIC_WRAP_KEY): RSA 2048, 3072 or 4096 with wrap: true; it cannot hold other public keys or verify with them.',
        'Use this only for the KMS wrapping key; verify signatures on the host.',
      );
    return this.run(s.device, 'Storing the public wrapping key', async () => {
      const id = await cmd.putPublicWrapKey(yh, { id: 0, label, domains: DOMAINS, capabilities: capabilities('EXPORT_WRAPPED'), delegatedCapabilities: OBJECT_CAPABILITIES, publicKey: key });
      return this.issued(s, { type: ObjectType.PUBLIC_WRAP_KEY, id, publicHalf: false }, template.token);
    });
  }

  async getAttributes<N extends AttributeName>(session: SessionHandle, object: ObjectHandle, names: readonly N[]): Promise<Record<N, AttributeValue>> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    const a = decodeHandle(object);
    return this.run(s.device, 'Reading object attributes', async () => {
      const info = await cmd.getObjectInfo(yh, a.id, a.type as ObjectTypeCode);
      let publicParts: PublicParts | undefined;
      if (names.some((n) => NEEDS_PUBLIC.has(n)) && (a.type === ObjectType.ASYMMETRIC_KEY || a.type === ObjectType.PUBLIC_WRAP_KEY)) {
        const p = await cmd.getPublicKey(yh, a.id, a.type === ObjectType.PUBLIC_WRAP_KEY ? ObjectType.PUBLIC_WRAP_KEY : undefined);
        publicParts = { algorithm: p.algorithm, raw: p.raw };
      }
      let opaque: Uint8Array | undefined;
      if (a.type === ObjectType.OPAQUE && names.some((n) => n === 'CKA_VALUE' || n === 'CKA_VALUE_LEN')) opaque = await cmd.getOpaque(yh, a.id);
      const temporary = s.temporary.has(encodeHandle({ ...a, publicHalf: false }));
      const out = {} as Record<N, AttributeValue>;
      for (const n of names) out[n] = attributeOf(n, a, info, { temporary, ...(publicParts ? { publicParts } : {}), ...(opaque ? { opaque } : {}) });
      return out;
    });
  }

  async findOne(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle> {
    const all = await this.findAll(session, query);
    if (all.length === 1) return all[0] as string;
    const what = describeQuery(query);
    if (all.length === 0) throw new TokenError(ErrorCodes.OBJECT_NOT_FOUND, `The YubiHSM holds no object with ${what} that this login may see.`, 'Check the label and id, and that you are logged in as the right role.');
    throw new TokenError(ErrorCodes.OBJECT_AMBIGUOUS, `The YubiHSM holds ${all.length} objects with ${what}; exactly one was expected.`, 'Remove the stray objects, or ask for the object by id as well.');
  }

  async findAll(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle[]> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    const q = query ?? {};
    if (q.label !== undefined) checkLabel(q.label, 'query.label');
    let id: number | undefined;
    if (q.id !== undefined) {
      if (q.id.length !== 2) return []; // object ids are 16 bits: no object has a longer CKA_ID
      id = ((q.id[0] as number) << 8) | (q.id[1] as number);
    }
    const types = q.class ? TYPES_OF_CLASS[q.class] : [ObjectType.OPAQUE, ObjectType.SYMMETRIC_KEY, ObjectType.HMAC_KEY, ObjectType.WRAP_KEY, ObjectType.ASYMMETRIC_KEY, ObjectType.PUBLIC_WRAP_KEY];
    if (!types) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `query.class "${String(q.class)}" is not DATA, SECRET_KEY, PUBLIC_KEY or PRIVATE_KEY`);
    return this.run(s.device, 'Searching objects', async () => {
      const refs = await cmd.listObjects(yh, { ...(id !== undefined ? { id } : {}), ...(q.label !== undefined ? { label: q.label } : {}) });
      const out: string[] = [];
      for (const r of refs) {
        if (!types.includes(r.type)) continue;
        if (r.type === ObjectType.OPAQUE && r.id === LABEL_OBJECT_ID) continue;
        if (r.type === ObjectType.ASYMMETRIC_KEY) {
          if (q.class !== 'PUBLIC_KEY') out.push(encodeHandle({ type: r.type, id: r.id, publicHalf: false }));
          if (q.class !== 'PRIVATE_KEY') out.push(encodeHandle({ type: r.type, id: r.id, publicHalf: true }));
        } else out.push(encodeHandle({ type: r.type, id: r.id, publicHalf: false }));
      }
      return out;
    });
  }

  async destroyObject(session: SessionHandle, object: ObjectHandle): Promise<void> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    const a = decodeHandle(object);
    await this.run(s.device, 'Destroying an object', async () => {
      if (a.publicHalf) {
        // One device object holds the pair: the public half goes with the private key.
        const left = await cmd.listObjects(yh, { id: a.id, type: ObjectType.ASYMMETRIC_KEY });
        if (left.length > 0)
          throw new TokenError('CKR_ACTION_PROHIBITED', 'On a YubiHSM the public half of a key pair cannot be destroyed apart from its private key.', 'Destroy the private key; the public half goes with it.');
        return;
      }
      await this.deleteAddress(yh, a);
      s.temporary.delete(encodeHandle(a));
    });
  }

  /** RSA_AES_KEY_WRAP = WRAP_KEY_RSA: RSA-OAEP(hash, MGF1-hash) of a fresh AES-256 key || AES-KWP of the material. */
  async wrapKey(session: SessionHandle, mechanism: WrapMechanism, wrappingKey: ObjectHandle, key: ObjectHandle): Promise<Bytes> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    if (mechanism?.name !== 'RSA_AES_KEY_WRAP')
      throw new TokenError(
        'CKR_MECHANISM_INVALID',
        `The YubiHSM cannot wrap with ${String(mechanism?.name)}: it wraps for a KMS only with RSA_AES_KEY_WRAP (WRAP_KEY_RSA). RSAES_OAEP_* is not possible on this device.`,
        'Ask the KMS for RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 wrapping parameters.',
      );
    const hash = mechanism.hash;
    if (!['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'].includes(hash)) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `mechanism.hash "${String(hash)}" must be SHA-1, SHA-256, SHA-384 or SHA-512`);
    const w = decodeHandle(wrappingKey);
    const k = decodeHandle(key);
    if (w.type !== ObjectType.PUBLIC_WRAP_KEY || w.publicHalf)
      throw new TokenError('CKR_WRAPPING_KEY_TYPE_INCONSISTENT', 'RSA_AES_KEY_WRAP on a YubiHSM wraps to a public wrapping key made with createPublicKeyFromSpki.', 'Load the KMS wrapping key with createPublicKeyFromSpki first.');
    if (k.type === ObjectType.HMAC_KEY)
      throw new TokenError('CKR_KEY_NOT_WRAPPABLE', 'The YubiHSM cannot export an HMAC key for a KMS: WRAP_KEY_RSA wraps only AES and asymmetric keys.', 'Import HMAC material into the KMS another way, or use an AES key.');
    if ((k.type !== ObjectType.SYMMETRIC_KEY && k.type !== ObjectType.ASYMMETRIC_KEY) || k.publicHalf)
      throw new TokenError('CKR_KEY_NOT_WRAPPABLE', 'WRAP_KEY_RSA wraps only AES keys and private keys.', 'Choose the AES key or the private key to export.');
    return this.run(s.device, 'Wrapping the key for the KMS', () =>
      cmd.wrapKeyRsa(yh, { publicWrapKeyId: w.id, objectType: k.type as typeof ObjectType.SYMMETRIC_KEY, objectId: k.id, hash, aes: Algorithm.AES256 }),
    );
  }

  /** TokenLayer.exportUnderDomainWrapKey; the work is in domain-wrap.ts. */
  async exportUnderDomainWrapKey(session: SessionHandle, key: ObjectHandle, wrapKey: Bytes): Promise<Bytes> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const k = decodeHandle(key);
    if (k.publicHalf) throw new TokenError('CKR_KEY_NOT_WRAPPABLE', 'Only the private key of a pair is carried under the domain wrap key; its public half goes with it.', 'Pass the private key handle.');
    return this.run(s.device, 'Exporting the key under the domain wrap key', () => exportUnderDomainWrapKey(yh, k.type, k.id, wrapKey));
  }

  /** TokenLayer.importUnderDomainWrapKey; the work is in domain-wrap.ts. */
  async importUnderDomainWrapKey(session: SessionHandle, wrapped: Bytes, wrapKey: Bytes): Promise<ObjectHandle> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const got = await this.run(s.device, 'Importing the key under the domain wrap key', () => importUnderDomainWrapKey(yh, wrapped, wrapKey));
    return encodeHandle({ type: got.type, id: got.id, publicHalf: false });
  }

  /** TokenLayer.importAesUnderDomainRsaWrapKey; the work is in domain-rsa-unwrap.ts. */
  async importAesUnderDomainRsaWrapKey(session: SessionHandle, wrapped: Bytes, rsaWrapKeyPkcs8: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    if (!this.firmware24(s.device)) throw new TokenError('CKR_MECHANISM_INVALID', 'Importing an RSA-wrapped key (UNWRAP_KEY_RSA) needs YubiHSM 2 firmware 2.4 or later.', 'Restore onto a YubiHSM 2 with firmware 2.4 or later, or onto a PKCS#11 token of the domain.');
    const object = { id: objectIdFromCkaId(template.id), label: checkLabel(template.label, 'template.label'), capabilities: secretKeyCapabilities('AES', template) };
    const got = await this.run(s.device, 'Importing the key under the domain RSA wrap key', () => importAesUnderDomainRsaWrapKey(yh, wrapped, rsaWrapKeyPkcs8, object));
    return this.issued(s, { type: got.type, id: got.id, publicHalf: false }, template.token);
  }

  /** TokenLayer.deviceObjects; the work is in device-objects.ts. */
  async deviceObjects(session: SessionHandle, query: DeviceObjectQuery = {}): Promise<DeviceObject[]> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    return this.run(s.device, 'Listing the objects of the YubiHSM', () => listDeviceObjects(yh, query, LABEL_OBJECT_ID));
  }

  /** TokenLayer.deviceObjectAt; the work is in device-objects.ts. */
  async deviceObjectAt(session: SessionHandle, typeCode: number, id: number): Promise<DeviceObject | null> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    return this.run(s.device, 'Reading object information', () => deviceObjectAt(yh, typeCode, id, LABEL_OBJECT_ID));
  }

  async sign(session: SessionHandle, mechanism: SignMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const k = decodeHandle(key);
    if (!(data instanceof Uint8Array)) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'data must be bytes (Uint8Array)');
    return this.run(s.device, `Signing with ${String(mechanism?.name)}`, async () => {
      switch (mechanism?.name) {
        case 'ECDSA':
        case 'ECDSA_SHA256':
        case 'ECDSA_SHA384': {
          if (k.type !== ObjectType.ASYMMETRIC_KEY || k.publicHalf) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'ECDSA needs an EC private key.', 'Choose the private key.');
          const info = await cmd.getObjectInfo(yh, k.id, ObjectType.ASYMMETRIC_KEY);
          const ec = EC_ALGORITHMS[info.algorithm];
          if (!ec) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'ECDSA needs an EC key; this is an RSA key.', 'Choose an EC key.');
          const digest = mechanism.name === 'ECDSA' ? data : new Uint8Array(createHash(mechanism.name === 'ECDSA_SHA256' ? 'sha256' : 'sha384').update(data).digest());
          return derSignatureToRaw(await cmd.signEcdsa(yh, k.id, digest), ec.bytes);
        }
        case 'AES_CMAC': {
          if (k.type !== ObjectType.SYMMETRIC_KEY) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'AES_CMAC needs an AES key.', 'Choose the AES key.');
          return aesCmacWith(async (block) => cmd.encryptEcb(yh, k.id, block), data);
        }
        case 'SHA256_HMAC': {
          if (k.type !== ObjectType.HMAC_KEY) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'SHA256_HMAC needs an HMAC key.', 'Choose the HMAC key.');
          const info = await cmd.getObjectInfo(yh, k.id, ObjectType.HMAC_KEY);
          if (info.algorithm !== Algorithm.HMAC_SHA256) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'This HMAC key is not an HMAC-SHA256 key.', 'Choose an HMAC-SHA256 key.');
          return cmd.signHmac(yh, k.id, data);
        }
        default:
          throw new TokenError('CKR_MECHANISM_INVALID', `The YubiHSM token layer does not sign with ${String(mechanism?.name)}.`, 'Use ECDSA, ECDSA_SHA256, ECDSA_SHA384, AES_CMAC or SHA256_HMAC.');
      }
    });
  }

  /** Hashing is public computation: done on the host with node:crypto (the device has no digest command). */
  async digest(session: SessionHandle, hash: HashName, data: Bytes): Promise<Bytes> {
    this.session(session);
    const name = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' }[hash];
    if (!name) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `hash "${String(hash)}" is not one of SHA-1, SHA-256, SHA-384, SHA-512`);
    if (!(data instanceof Uint8Array)) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'data must be bytes (Uint8Array)');
    return new Uint8Array(createHash(name).update(data).digest());
  }

  /** GET_PSEUDO_RANDOM: needs a logged-in session (the device answers nothing else outside one). */
  async random(session: SessionHandle, length: number): Promise<Bytes> {
    if (!Number.isInteger(length) || length < 1 || length > 65536) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `length ${String(length)} must be a whole number from 1 to 65536`);
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    return this.run(s.device, 'Drawing random bytes', async () => {
      const out = new Uint8Array(length);
      for (let at = 0; at < length; at += 2048) out.set(await cmd.getPseudoRandom(yh, Math.min(2048, length - at)), at);
      return out;
    });
  }

  /**
   * The key check value of an AES key computed by the device (outside the TokenLayer interface): the first
   * 3 bytes of AES-ECB(key, 16 zero bytes). Needs a key generated with encrypt: true (ENCRYPT_ECB).
   */
  async keyCheckValue(session: SessionHandle, key: ObjectHandle): Promise<Bytes> {
    const s = this.session(session);
    const yh = this.loggedIn(s, 'user');
    const k = decodeHandle(key);
    if (k.type !== ObjectType.SYMMETRIC_KEY) throw new TokenError('CKR_KEY_TYPE_INCONSISTENT', 'A check value is computed for AES keys only.', 'Choose the AES key.');
    return this.run(s.device, 'Computing the key check value', async () => (await cmd.encryptEcb(yh, k.id, new Uint8Array(16))).slice(0, 3));
  }

  // ------------------------------------------------------------------ data objects (opaque objects)

  async createDataObject(session: SessionHandle, template: DataObjectTemplate, value: Bytes): Promise<ObjectHandle> {
    const s = this.session(session);
    const yh = this.loggedInAny(s);
    const label = checkLabel(template?.label, 'template.label');
    if (!(value instanceof Uint8Array) || value.length === 0) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'value must be non-empty bytes: a YubiHSM opaque object cannot be empty');
    return this.run(s.device, 'Storing a data object', async () => {
      const id = await cmd.putOpaque(yh, { id: 0, label, domains: DOMAINS, capabilities: 0n, data: value });
      return this.issued(s, { type: ObjectType.OPAQUE, id, publicHalf: false }, template.token);
    });
  }

  async readDataObject(session: SessionHandle, label: string): Promise<Bytes> {
    const s = this.session(session);
    const a = decodeHandle(await this.findOne(session, { class: 'DATA', label }));
    return this.run(s.device, 'Reading a data object', () => cmd.getOpaque(this.loggedInAny(s), a.id));
  }

  /** The device cannot change an object: the new one is stored before the old one is deleted, so a crash never leaves none. */
  async replaceDataObject(session: SessionHandle, label: string, value: Bytes): Promise<void> {
    const s = this.session(session);
    const old = decodeHandle(await this.findOne(session, { class: 'DATA', label }));
    const temporary = s.temporary.has(encodeHandle(old));
    await this.createDataObject(session, { label, application: '', token: !temporary, private: true }, value);
    await this.run(s.device, 'Replacing a data object', () => this.deleteAddress(this.loggedInAny(s), old));
    s.temporary.delete(encodeHandle(old));
  }

  // ------------------------------------------------------------------ the device's own audit log

  /**
   * The device's audit log entries with the digest chain verified (from the first entry returned, or from
   * `previous`, an entry already in the transcript). Needs a login on the device. `markConsumed` frees the
   * entries afterwards (SET_LOG_INDEX) so that the 62-entry store does not wrap during a long ceremony.
   */
  async deviceLog(target: SlotRef | SessionHandle, options: { previous?: LogEntry; markConsumed?: boolean } = {}): Promise<DeviceLog> {
    const d = typeof target === 'string' ? this.session(target).device : this.device(target);
    if (!d.login) throw notLoggedIn(d);
    const yh = d.login.yh;
    return this.run(d, 'Reading the YubiHSM audit log', async () => {
      const data = await cmd.getLogEntries(yh, options.previous);
      const last = data.entries[data.entries.length - 1];
      if (options.markConsumed && last) await cmd.setLogIndex(yh, last.number);
      return {
        serial: d.serial,
        unloggedBoot: data.unloggedBoot,
        unloggedAuth: data.unloggedAuth,
        entries: data.entries.map((e) => ({ ...e, commandName: e.command === 0xff ? 'RESET' : e.command === 0 ? 'BOOT' : commandName(e.command), digestHex: hex(e.digest) })),
      };
    });
  }

  /**
   * TokenLayer.deviceLogSince: the entries after `cursor` (chain verified across it), then marked consumed
   * (SET_LOG_INDEX, itself logged and copied next time) so the 62-entry store never wraps between copies.
   * null before a login: the device shows its log only inside a session; the next copy covers the entries.
   */
  async deviceLogSince(session: SessionHandle, cursor: DeviceLogCursor | null): Promise<DeviceLogSlice | null> {
    const d = this.session(session).device;
    if (!d.login) return null;
    const yh = d.login.yh;
    const from = cursor && cursor.serial === d.serial ? cursor : null;
    return this.run(d, 'Reading the YubiHSM audit log', async () => {
      const data = await cmd.getLogEntries(yh);
      const fresh = entriesSince(data.entries, from);
      const slice: DeviceLogSlice = { model: 'YubiHSM 2', serial: d.serial, previous: from, entries: fresh.entries.map(entryData), unloggedBoot: data.unloggedBoot, unloggedAuth: data.unloggedAuth };
      if (fresh.gap) slice.gap = fresh.gap;
      const last = data.entries[data.entries.length - 1];
      if (last) {
        await cmd.setLogIndex(yh, last.number);
        slice.consumedThrough = last.number;
      }
      return slice;
    });
  }

  async close(): Promise<void> {
    await this.closeAll();
  }

  // ------------------------------------------------------------------ internals

  private moduleDescription(path: string): string {
    if (path === YUBIHSM_USB_MODULE) return 'YubiHSM 2 over USB';
    return this.options.transports?.[path] ? `YubiHSM 2 (${path})` : `YubiHSM 2 through yubihsm-connector at ${path.slice(YUBIHSM_MODULE_PREFIX.length)}`;
  }

  /** Find the devices behind a module (again, for USB: devices come and go). */
  private async discover(m: Module): Promise<void> {
    const path = m.config.path;
    const given = this.options.transports?.[path];
    if (given) {
      if (m.devices.size > 0) return;
      const transports = await given();
      for (const t of transports) await this.addDevice(m, t, async () => t);
      return;
    }
    if (path === YUBIHSM_USB_MODULE) {
      const usb = await this.usb();
      const serials = await WebUsbTransport.list(usb);
      for (const [serial, d] of m.devices) {
        // Unplugged: the slot stays (without a token) and its sessions say so; a replug is reached again.
        if (!serials.some((s) => Number(s) === Number(serial))) this.noteGone(d, unplugged());
      }
      for (const serial of serials) {
        if ([...m.devices.keys()].some((s) => Number(s) === Number(serial))) continue; // known (a gone one is reached again by listSlots)
        const t = await WebUsbTransport.open(usb, serial);
        await this.addDevice(m, t, async () => WebUsbTransport.open(await this.usb(), serial));
      }
      return;
    }
    const url = path.slice(YUBIHSM_MODULE_PREFIX.length);
    const t = new HttpConnectorTransport(url);
    await this.addDevice(m, t, async () => t);
  }

  private async addDevice(m: Module, t: YubiHsmTransport, reconnect: () => Promise<YubiHsmTransport>): Promise<void> {
    const hsm = await YubiHsm.connect(t);
    const serial = String(hsm.info?.serial ?? 0);
    m.devices.set(serial, { moduleId: m.config.path, serial, hsm, reconnect, description: `YubiHSM 2 serial ${serial} (${t.description})`, known: {}, sessions: new Set(), gone: false, generation: 0 });
  }

  private usb(): Promise<UsbLike> {
    this.usbPromise ??= (this.options.usb ?? (() => WebUsbTransport.nodeUsb()))();
    return this.usbPromise;
  }

  private firmware24(d: Device): boolean {
    return d.hsm.info ? atLeast(d.hsm.info.version, 2, 4) : false;
  }

  /** After RESET_DEVICE the device reboots: reach it again. */
  private async afterReset(d: Device): Promise<void> {
    d.login = undefined;
    const delays = this.options.reconnectDelaysMs ?? [0, 500, 1000, 2000, 3000, 5000];
    let last: unknown;
    for (const ms of delays) {
      await sleep(ms);
      try {
        const t = await d.reconnect();
        const old = d.hsm;
        d.hsm = await YubiHsm.connect(t);
        if (old.transport !== t) await old.transport.close().catch(() => undefined);
        return;
      } catch (e) {
        last = e;
      }
    }
    throw asTokenError(last, `Reaching the YubiHSM (serial ${d.serial}) after its reset`);
  }

  private async reopenFactory(d: Device): Promise<YubiHsmSession> {
    const factory = await this.tryOpen(d, FACTORY_AUTH_KEY_ID, FACTORY_PASSWORD);
    if (!factory) throw new TokenError('YUBIHSM_RESET_FAILED', `The YubiHSM (serial ${d.serial}) did not come back in factory state after the reset.`, 'Unplug it, plug it back in and initialise it again.');
    return factory;
  }

  /** Open a session, or undefined when the key is absent or the password wrong. */
  private async tryOpen(d: Device, keyId: number, password: string): Promise<YubiHsmSession | undefined> {
    try {
      return await d.hsm.openSession(keyId, password);
    } catch (e) {
      if (e instanceof TokenError && (e.code === YubiHsmErrorCodes.WRONG_PASSWORD || e.code === 'YUBIHSM_OBJECT_NOT_FOUND')) return undefined;
      throw e;
    }
  }

  /**
   * TokenInfo. The device says nothing without a session, so: initialized = the factory key 1 no longer
   * opens with "password" (probed once per device and process with a session that is closed at once);
   * label and userPinInitialized come from what this process learned (initToken, login), else '' and
   * `initialized`.
   */
  private async tokenInfo(d: Device): Promise<TokenInfo> {
    if (d.known.factory === undefined && !d.login) {
      const s = await this.tryOpen(d, FACTORY_AUTH_KEY_ID, FACTORY_PASSWORD).catch(() => undefined);
      d.known.factory = s !== undefined;
      await s?.close().catch(() => undefined);
    }
    const initialized = d.known.factory === false;
    const userPinInitialized = initialized && (d.known.operatorKey ?? true);
    const flags = 0x1 /* RNG */ | 0x4 /* LOGIN_REQUIRED */ | (userPinInitialized ? 0x8 : 0) | (initialized ? 0x400 : 0);
    return {
      label: initialized ? (d.known.label ?? this.options.labels?.recall(d.serial) ?? '') : '',
      manufacturer: 'Yubico',
      model: 'YubiHSM 2',
      serial: d.serial,
      initialized,
      loginRequired: true,
      userPinInitialized,
      userPinLocked: false,
      userPinCountLow: false,
      userPinFinalTry: false,
      soPinLocked: false,
      writeProtected: false,
      hasRng: true,
      protectedAuthenticationPath: false,
      minPinLength: 1,
      maxPinLength: 255,
      flags,
    };
  }

  /**
   * A PKCS#11 URI (RFC 7512) matched against the devices as listSlots shows them (manufacturer Yubico, model
   * "YubiHSM 2", serial; the label only once this process has learned it). Object attributes are ignored.
   */
  private async resolveUri(uri: string): Promise<Device> {
    const parsed = parsePkcs11Uri(uri);
    const matches: Device[] = [];
    const attached: string[] = [];
    for (const m of this.modules.values()) {
      if (!m.status.loaded) continue;
      for (const slot of await this.listSlots(m.config.path)) {
        attached.push(`YubiHSM serial ${slot.slotId}${slot.token?.label ? ` "${slot.token.label}"` : ''} (${m.config.path})`);
        const target: UriMatchTarget = {
          module: { path: m.config.path, manufacturer: 'Yubico', description: m.status.library?.description ?? '' },
          slot: { slotId: slot.slotId, description: slot.description, manufacturer: slot.manufacturer },
          ...(slot.token ? { token: slot.token } : {}),
        };
        if (slot.tokenPresent && uriMatches(parsed, target)) matches.push(this.device(slot));
      }
    }
    if (matches.length === 0)
      throw new TokenError(ErrorCodes.TOKEN_NOT_FOUND, `No YubiHSM matches ${uri}. Attached: ${attached.join('; ') || 'none'}`, 'Plug in the YubiHSM, or correct the token URI (serial=... names one device).');
    if (matches.length > 1)
      throw new TokenError(ErrorCodes.TOKEN_AMBIGUOUS, `${matches.length} YubiHSMs match ${uri}: serials ${matches.map((d) => d.serial).join(', ')}`, 'Add serial=... to the URI, or unplug the others.');
    return matches[0] as Device;
  }

  private module(moduleId: string): Module {
    const m = this.modules.get(moduleId);
    if (!m) throw new TokenError(ErrorCodes.MODULE_NOT_FOUND, `No YubiHSM module ${moduleId} is configured.`, 'Add it to the module list (yubihsm:usb or yubihsm:http://127.0.0.1:PORT).');
    if (!m.status.loaded) throw new TokenError(ErrorCodes.MODULE_NOT_LOADED, `The YubiHSM module ${moduleId} did not load: ${m.status.error?.message ?? 'unknown error'}`, m.status.error?.remedy ?? 'Check the device and reload the modules.');
    return m;
  }

  private device(ref: SlotRef): Device {
    if (!ref || typeof ref.moduleId !== 'string' || typeof ref.slotId !== 'string')
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'slot must be { moduleId, slotId } with slotId the YubiHSM serial as a decimal string');
    const m = this.module(ref.moduleId);
    const d = m.devices.get(ref.slotId) ?? [...m.devices.values()].find((x) => Number(x.serial) === Number(ref.slotId));
    if (!d)
      throw new TokenError(ErrorCodes.SLOT_NOT_FOUND, `No YubiHSM with serial ${ref.slotId} behind ${ref.moduleId} (found: ${[...m.devices.keys()].join(', ') || 'none'}).`, 'Plug it in, then choose it again from the token list.');
    return d;
  }

  /** The session, which must still be on the device it was opened on (unless `evenIfGone`, for closing it). */
  private session(handle: SessionHandle, evenIfGone = false): Session {
    const s = this.sessions.get(handle);
    if (!s) throw new TokenError(ErrorCodes.SESSION_UNKNOWN, `Session ${String(handle)} is not open on any YubiHSM.`, 'Open a new session.');
    if (!evenIfGone && s.device.gone) throw unpluggedError(s.device, s.lostLogin === true);
    if (!evenIfGone && s.generation !== s.device.generation) {
      // Replugged. A session that was not logged in holds nothing the device lost: it simply goes on (the
      // next operation opens a new device session). A login is gone for good: the layer keeps no PIN.
      if (s.lostLogin) throw staleSessionError(s.device);
      s.generation = s.device.generation;
    }
    return s;
  }

  /** After an error: was it the device going away? Then mark it gone and end its login. */
  private noteGone(d: Device, e: unknown): boolean {
    const gone = e instanceof TokenError && (e.code === YubiHsmErrorCodes.UNPLUGGED || e.code === YubiHsmErrorCodes.CONNECTOR_UNREACHABLE);
    if (gone && !d.gone) {
      d.gone = true;
      d.known = {};
      d.lostLogin = d.login !== undefined;
      for (const h of d.sessions) {
        const open = this.sessions.get(h);
        if (open) open.lostLogin = d.lostLogin;
      }
      const login = d.login;
      d.login = undefined;
      if (login?.keepAlive) clearInterval(login.keepAlive);
      login?.yh.markClosed();
    }
    return gone;
  }

  /** Try to reach a gone device again (replugged); it stays gone when that fails. */
  private async reach(d: Device): Promise<void> {
    try {
      const t = await d.reconnect();
      const hsm = await YubiHsm.connect(t);
      if (String(hsm.info?.serial) !== d.serial) {
        await hsm.close().catch(() => undefined);
        return;
      }
      if (d.hsm.transport !== t) await d.hsm.transport.close().catch(() => undefined);
      d.hsm = hsm;
      d.gone = false;
      d.generation++;
    } catch {
      // Still unplugged.
    }
  }

  private loggedInAny(s: Session): YubiHsmSession {
    const login = s.device.login;
    if (!login) throw notLoggedIn(s.device);
    return login.yh;
  }

  private loggedIn(s: Session, role: UserType): YubiHsmSession {
    const login = s.device.login;
    if (!login) throw notLoggedIn(s.device);
    if (login.userType !== role)
      throw new TokenError(
        'CKR_USER_NOT_LOGGED_IN',
        role === 'so' ? 'Only the SO (admin key) may do this on the YubiHSM.' : 'Only the user (operator key) may do this on the YubiHSM; the SO (admin key) manages authentication keys only.',
        `Log out and log in as ${role === 'so' ? 'SO' : 'user'}.`,
      );
    return login.yh;
  }

  private issued(s: Session, a: ObjectAddress, token: boolean): string {
    const h = encodeHandle(a);
    if (token === false) s.temporary.add(h);
    return h;
  }

  private async deleteAddress(yh: YubiHsmSession, a: ObjectAddress): Promise<void> {
    if (classOf(a) === null) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'That handle does not name an object this token layer manages.');
    await cmd.deleteObject(yh, a.id, a.type as ObjectTypeCode);
  }

  /** Run a device operation: every failure becomes a TokenError; a lost device session ends the login. */
  private async run<T>(d: Device, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = asTokenError(e, `${what} on the YubiHSM (serial ${d.serial})`);
      if (this.noteGone(d, err)) throw unpluggedError(d);
      if (d.login && !d.login.yh.isOpen) {
        await this.endLogin(d);
        if (err.code === YubiHsmErrorCodes.SESSION_CLOSED || err.code === 'YUBIHSM_INVALID_SESSION')
          throw new TokenError('CKR_USER_NOT_LOGGED_IN', `The YubiHSM (serial ${d.serial}) ended the session (timeout, reset or replug): ${err.message}`, 'Log in again and repeat the step.');
      }
      if (err.code === 'YUBIHSM_OBJECT_NOT_FOUND') throw new TokenError(ErrorCodes.OBJECT_NOT_FOUND, err.message, err.remedy);
      throw err;
    }
  }

  private async endLogin(d: Device): Promise<void> {
    const login = d.login;
    if (!login) return;
    d.login = undefined;
    if (login.keepAlive) clearInterval(login.keepAlive);
    await login.yh.close().catch(() => undefined);
  }

  private async forget(d: Device): Promise<void> {
    for (const h of d.sessions) this.sessions.delete(h);
    d.sessions.clear();
    await this.endLogin(d);
    await d.hsm.close().catch(() => undefined);
  }

  private async closeAll(): Promise<void> {
    for (const m of this.modules.values()) for (const d of m.devices.values()) await this.forget(d);
    this.modules.clear();
    this.sessions.clear();
  }
}

function describeQuery(q: ObjectQuery): string {
  const parts: string[] = [];
  if (q.class) parts.push(`class ${q.class}`);
  if (q.label !== undefined) parts.push(`label '${q.label}'`);
  if (q.id !== undefined) parts.push(`id ${Buffer.from(q.id).toString('hex')}`);
  return parts.join(', ') || 'any attributes';
}


/** A random 2-byte CKA_ID, for callers that want to pick the object id themselves. */
export const randomObjectCkaId = () => {
  const b = new Uint8Array(randomBytes(2));
  if ((b[0] === 0xff && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xf0) || (b[0] === 0 && b[1] === 0)) b[1] = 1;
  return b;
};
