// One TokenLayer over two drivers: PKCS#11 modules and YubiHSM connectors side by side, so the app's module
// list and inventory can hold both. Modules are routed by path (`yubihsm:...` or kind 'yubihsm'), sessions
// by the driver that opened them; object handles travel with their session.
import { probeKmsCapabilities } from '../capabilities.js';
import { ErrorCodes, TokenError } from '../errors.js';
import type { EncryptMechanism, TokenLayer } from '../token.js';
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
  UnwrapTarget,
  SecretKeyTemplate,
  SessionHandle,
  SessionTarget,
  SignMechanism,
  SlotInfo,
  SlotRef,
  UserType,
  WrapMechanism,
} from '../types.js';
import type { LogEntry } from './log.js';
import type { DeviceLogCursor, DeviceLogSlice } from '../device-log.js';
import type { DeviceObject, DeviceObjectQuery } from '../device-objects.js';
import { YUBIHSM_MODULE_PREFIX, type DeviceLog, type YubiHsmTokenLayer } from './token-layer.js';

export const isYubiHsmModule = (m: Pick<ModuleConfig, 'path' | 'kind'>) => m.kind === 'yubihsm' || m.path.startsWith(YUBIHSM_MODULE_PREFIX);

export class RoutingTokenLayer implements TokenLayer {
  /** Session handle -> the driver that issued it (handles are prefixed so two drivers cannot collide). */
  private readonly owner = new Map<SessionHandle, { layer: TokenLayer; inner: SessionHandle }>();
  private next = 1;

  constructor(
    readonly pkcs11: TokenLayer,
    readonly yubihsm: YubiHsmTokenLayer,
  ) {}

  async configureModules(modules: ModuleConfig[]): Promise<ModuleStatus[]> {
    this.owner.clear();
    const yh = modules.filter(isYubiHsmModule).map((m) => ({ ...m, path: m.path.startsWith(YUBIHSM_MODULE_PREFIX) ? m.path : `${YUBIHSM_MODULE_PREFIX}${m.path}` }));
    const p11 = modules.filter((m) => !isYubiHsmModule(m));
    const [a, b] = await Promise.all([this.pkcs11.configureModules(p11), this.yubihsm.configureModules(yh)]);
    return [...a, ...b];
  }

  async listModules(): Promise<ModuleStatus[]> {
    return [...(await this.pkcs11.listModules()), ...(await this.yubihsm.listModules())];
  }

  async listSlots(moduleId: string): Promise<SlotInfo[]> {
    return this.byModule(moduleId).listSlots(moduleId);
  }

  async listMechanisms(slot: SlotRef): Promise<MechanismInfo[]> {
    return this.byModule(slot.moduleId).listMechanisms(slot);
  }

  /** The YubiHSM answers for itself; PKCS#11 tokens are probed. */
  async kmsCapabilities(slot: SlotRef): Promise<KmsCapability[]> {
    // The PKCS#11 probe runs on the PKCS#11 layer itself (same module and slot ids), never back through
    // this one, so probeKmsCapabilities may prefer a layer's own kmsCapabilities without recursing.
    return this.byModule(slot.moduleId) === this.yubihsm ? this.yubihsm.kmsCapabilities(slot) : probeKmsCapabilities(this.pkcs11, slot);
  }

  async initToken(slot: SlotRef, soPin: string, label: string): Promise<void> {
    return this.byModule(slot.moduleId).initToken(slot, soPin, label);
  }

  async openSession(target: SessionTarget, options: OpenSessionOptions): Promise<OpenedSession> {
    let layer = 'uri' in target ? this.pkcs11 : this.byModule(target.moduleId);
    let opened: OpenedSession;
    try {
      opened = await layer.openSession(target, options);
    } catch (e) {
      // A URI is tried on the PKCS#11 tokens first, then on the YubiHSMs.
      if (!('uri' in target) || !(e instanceof TokenError) || e.code !== ErrorCodes.TOKEN_NOT_FOUND) throw e;
      layer = this.yubihsm;
      try {
        opened = await layer.openSession(target, options);
      } catch (e2) {
        if (e2 instanceof TokenError && e2.code === ErrorCodes.TOKEN_NOT_FOUND) throw new TokenError(e.code, `${e.message}; ${e2.message}`, e.remedy);
        throw e2;
      }
    }
    const handle = `${layer === this.yubihsm ? 'y' : 'p'}${this.next++}:${opened.session}`;
    this.owner.set(handle, { layer, inner: opened.session });
    return { ...opened, session: handle };
  }

  async closeSession(session: SessionHandle): Promise<void> {
    const { layer, inner } = this.route(session);
    try {
      await layer.closeSession(inner);
    } finally {
      this.owner.delete(session);
    }
  }

  async login(session: SessionHandle, userType: UserType, pin: string): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.login(inner, userType, pin);
  }
  async logout(session: SessionHandle): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.logout(inner);
  }
  async initUserPin(session: SessionHandle, pin: string): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.initUserPin(inner, pin);
  }
  async setPin(session: SessionHandle, oldPin: string, newPin: string): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.setPin(inner, oldPin, newPin);
  }
  async generateSecretKey(session: SessionHandle, spec: SecretKeySpec, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    return layer.generateSecretKey(inner, spec, template);
  }
  async generateKeyPair(session: SessionHandle, spec: KeyPairSpec, publicTemplate: PublicKeyTemplate, privateTemplate: PrivateKeyTemplate): Promise<KeyPairHandles> {
    const { layer, inner } = this.route(session);
    return layer.generateKeyPair(inner, spec, publicTemplate, privateTemplate);
  }
  async createPublicKeyFromSpki(session: SessionHandle, spki: Bytes, template: PublicKeyObjectTemplate): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    return layer.createPublicKeyFromSpki(inner, spki, template);
  }
  async getAttributes<N extends AttributeName>(session: SessionHandle, object: ObjectHandle, names: readonly N[]): Promise<Record<N, AttributeValue>> {
    const { layer, inner } = this.route(session);
    return layer.getAttributes(inner, object, names);
  }
  async findOne(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    return layer.findOne(inner, query);
  }
  async findAll(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle[]> {
    const { layer, inner } = this.route(session);
    return layer.findAll(inner, query);
  }
  async destroyObject(session: SessionHandle, object: ObjectHandle): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.destroyObject(inner, object);
  }
  async wrapKey(session: SessionHandle, mechanism: WrapMechanism, wrappingKey: ObjectHandle, key: ObjectHandle): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    return layer.wrapKey(inner, mechanism, wrappingKey, key);
  }
  /** Passed through where the driver has it (PKCS#11: backup-key's domain backup key; a YubiHSM: not this way). */
  async createSecretKey(session: SessionHandle, spec: SecretKeySpec, value: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    if (!layer.createSecretKey) throw new TokenError('CKR_FUNCTION_NOT_SUPPORTED', 'This token driver cannot create a key from a value.', 'Use a PKCS#11 token for backup and restore.');
    return layer.createSecretKey(inner, spec, value, template);
  }
  async unwrapKey(session: SessionHandle, mechanism: WrapMechanism, unwrappingKey: ObjectHandle, wrapped: Bytes, target: UnwrapTarget): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    if (!layer.unwrapKey) throw new TokenError('CKR_FUNCTION_NOT_SUPPORTED', 'This token driver cannot unwrap a key.', 'Use a PKCS#11 token for restore.');
    return layer.unwrapKey(inner, mechanism, unwrappingKey, wrapped, target);
  }
  /** Passed through where the driver has it; a driver without it says so in the same words kcv.ts would. */
  async encrypt(session: SessionHandle, mechanism: EncryptMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    if (!layer.encrypt) throw new TokenError('CKR_FUNCTION_NOT_SUPPORTED', 'This token driver cannot encrypt.', 'Use a token that offers CKM_AES_CMAC for the check value.');
    return layer.encrypt(inner, mechanism, key, data);
  }
  async sign(session: SessionHandle, mechanism: SignMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    return layer.sign(inner, mechanism, key, data);
  }
  async digest(session: SessionHandle, hash: HashName, data: Bytes): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    return layer.digest(inner, hash, data);
  }
  async random(session: SessionHandle, length: number): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    return layer.random(inner, length);
  }
  async createDataObject(session: SessionHandle, template: DataObjectTemplate, value: Bytes): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    return layer.createDataObject(inner, template, value);
  }
  async readDataObject(session: SessionHandle, label: string): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    return layer.readDataObject(inner, label);
  }
  async replaceDataObject(session: SessionHandle, label: string, value: Bytes): Promise<void> {
    const { layer, inner } = this.route(session);
    return layer.replaceDataObject(inner, label, value);
  }

  /** The YubiHSM's own log, for a session on a YubiHSM; null for a PKCS#11 session (no such log). */
  async deviceLog(session: SessionHandle, options: { previous?: LogEntry; markConsumed?: boolean } = {}): Promise<DeviceLog | null> {
    const { layer, inner } = this.route(session);
    return layer === this.yubihsm ? this.yubihsm.deviceLog(inner, options) : null;
  }

  /** TokenLayer.exportUnderDomainWrapKey: YubiHSM only; a PKCS#11 token carries keys with the domain backup key instead. */
  async exportUnderDomainWrapKey(session: SessionHandle, key: ObjectHandle, wrapKey: Bytes): Promise<Bytes> {
    const { layer, inner } = this.route(session);
    if (layer !== this.yubihsm) throw notYubiHsm('exportUnderDomainWrapKey');
    return this.yubihsm.exportUnderDomainWrapKey(inner, key, wrapKey);
  }

  async importUnderDomainWrapKey(session: SessionHandle, wrapped: Bytes, wrapKey: Bytes): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    if (layer !== this.yubihsm) throw notYubiHsm('importUnderDomainWrapKey');
    return this.yubihsm.importUnderDomainWrapKey(inner, wrapped, wrapKey);
  }

  /** TokenLayer.importAesUnderDomainRsaWrapKey: YubiHSM only (UNWRAP_KEY_RSA of a PKCS#11 token's backup). */
  async importAesUnderDomainRsaWrapKey(session: SessionHandle, wrapped: Bytes, rsaWrapKeyPkcs8: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const { layer, inner } = this.route(session);
    if (layer !== this.yubihsm) throw notYubiHsm('importAesUnderDomainRsaWrapKey');
    return this.yubihsm.importAesUnderDomainRsaWrapKey(inner, wrapped, rsaWrapKeyPkcs8, template);
  }

  /** TokenLayer.deviceLogSince: the YubiHSM's log for a session on a YubiHSM; null on PKCS#11 (no such log). */
  async deviceLogSince(session: SessionHandle, cursor: DeviceLogCursor | null): Promise<DeviceLogSlice | null> {
    const { layer, inner } = this.route(session);
    return layer === this.yubihsm ? this.yubihsm.deviceLogSince(inner, cursor) : null;
  }

  /** TokenLayer.deviceObjects: the YubiHSM's own object list; null on PKCS#11 (its view is findAll). */
  async deviceObjects(session: SessionHandle, query: DeviceObjectQuery = {}): Promise<DeviceObject[] | null> {
    const { layer, inner } = this.route(session);
    return layer === this.yubihsm ? this.yubihsm.deviceObjects(inner, query) : null;
  }

  async deviceObjectAt(session: SessionHandle, typeCode: number, id: number): Promise<DeviceObject | null> {
    const { layer, inner } = this.route(session);
    if (layer !== this.yubihsm) throw notYubiHsm('deviceObjectAt');
    return this.yubihsm.deviceObjectAt(inner, typeCode, id);
  }

  async close(): Promise<void> {
    this.owner.clear();
    await Promise.allSettled([this.pkcs11.close(), this.yubihsm.close()]);
  }

  private byModule(moduleId: string): TokenLayer {
    return typeof moduleId === 'string' && moduleId.startsWith(YUBIHSM_MODULE_PREFIX) ? this.yubihsm : this.pkcs11;
  }

  private route(session: SessionHandle): { layer: TokenLayer; inner: SessionHandle } {
    const r = this.owner.get(session);
    if (!r) throw new TokenError(ErrorCodes.SESSION_UNKNOWN, `Session ${String(session)} is not open.`, 'Open a new session.');
    return r;
  }
}

function notYubiHsm(method: string): TokenError {
  return new TokenError('CKR_FUNCTION_NOT_SUPPORTED', `${method} works on a YubiHSM 2 only: this is a PKCS#11 token.`, 'On a PKCS#11 token carry the key with the domain backup key (wrapKey / unwrap) instead.');
}
