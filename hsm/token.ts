import type { DeviceObject, DeviceObjectQuery } from './device-objects.js';
import type {
  AttributeName,
  AttributeValue,
  Bytes,
  DataObjectTemplate,
  HashName,
  KeyPairHandles,
  KmsCapability,
  KeyPairSpec,
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
  UserType,
  WrapMechanism,
  UnwrapTarget,
} from './types.js';
import type { DeviceLogCursor, DeviceLogSlice } from './device-log.js';

/** Single-block encryption, for the AES key check value of tokens without CKM_AES_CMAC (src-main/kms/kcv.ts). */
export type EncryptMechanism = { name: 'AES_ECB' };

/**
 * The one token interface everything above hsm/ uses. Every method is async and takes and returns plain
 * data, so a driver may run in this process or behind a message channel. Failures are thrown as
 * TokenError (hsm/errors.ts), which carries a code, a sentence and a remedy.
 */
export interface TokenLayer {
  /** Load (or reload) the configured modules. A module that fails is reported in its status; the others still load. */
  configureModules(modules: ModuleConfig[]): Promise<ModuleStatus[]>;
  listModules(): Promise<ModuleStatus[]>;
  listSlots(moduleId: string): Promise<SlotInfo[]>;
  listMechanisms(slot: SlotRef): Promise<MechanismInfo[]>;

  /** C_InitToken: erases the token. No session may be open on the slot. */
  initToken(slot: SlotRef, soPin: string, label: string): Promise<void>;

  openSession(target: SessionTarget, options: OpenSessionOptions): Promise<OpenedSession>;
  closeSession(session: SessionHandle): Promise<void>;
  login(session: SessionHandle, userType: UserType, pin: string): Promise<void>;
  logout(session: SessionHandle): Promise<void>;
  /** C_InitPIN: the SO, logged in on this session, sets the user PIN. */
  initUserPin(session: SessionHandle, pin: string): Promise<void>;
  /** C_SetPIN for whoever is logged in on this session. */
  setPin(session: SessionHandle, oldPin: string, newPin: string): Promise<void>;

  generateSecretKey(session: SessionHandle, spec: SecretKeySpec, template: SecretKeyTemplate): Promise<ObjectHandle>;
  generateKeyPair(
    session: SessionHandle,
    spec: KeyPairSpec,
    publicTemplate: PublicKeyTemplate,
    privateTemplate: PrivateKeyTemplate,
  ): Promise<KeyPairHandles>;
  /** A public key object (RSA or EC) made from a DER SubjectPublicKeyInfo, e.g. the KMS wrapping key. */
  createPublicKeyFromSpki(session: SessionHandle, spki: Bytes, template: PublicKeyObjectTemplate): Promise<ObjectHandle>;

  getAttributes<N extends AttributeName>(
    session: SessionHandle,
    object: ObjectHandle,
    names: readonly N[],
  ): Promise<Record<N, AttributeValue>>;
  /** Exactly one object matches, or a NOT_FOUND / AMBIGUOUS error. */
  findOne(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle>;
  findAll(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle[]>;
  destroyObject(session: SessionHandle, object: ObjectHandle): Promise<void>;

  wrapKey(session: SessionHandle, mechanism: WrapMechanism, wrappingKey: ObjectHandle, key: ObjectHandle): Promise<Bytes>;
  /**
   * Optional: C_CreateObject of a secret key from its value. Only the domain backup key uses it: imported as a
   * session object for one quorum step and destroyed at once. Absent: the driver cannot (a YubiHSM: its own
   * wrap keys instead).
   */
  createSecretKey?(session: SessionHandle, spec: SecretKeySpec, value: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle>;
  /** Optional: C_UnwrapKey into a new object with every flag explicit (restore-key). */
  unwrapKey?(session: SessionHandle, mechanism: WrapMechanism, unwrappingKey: ObjectHandle, wrapped: Bytes, target: UnwrapTarget): Promise<ObjectHandle>;
  sign(session: SessionHandle, mechanism: SignMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes>;
  digest(session: SessionHandle, hash: HashName, data: Bytes): Promise<Bytes>;
  /**
   * Optional: C_Encrypt in one part. Only the AES-ECB key check value needs it; a driver that cannot (or whose
   * device never lacks CMAC) leaves it out, and the check value code says so.
   */
  encrypt?(session: SessionHandle, mechanism: EncryptMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes>;
  random(session: SessionHandle, length: number): Promise<Bytes>;

  createDataObject(session: SessionHandle, template: DataObjectTemplate, value: Bytes): Promise<ObjectHandle>;
  /** The value of the one data object with this label. */
  readDataObject(session: SessionHandle, label: string): Promise<Bytes>;
  /**
   * Replace the value of the one data object with this label: in place (C_SetAttributeValue) where the
   * token allows it, otherwise the new object is created before the old one is destroyed, so a crash never
   * leaves none.
   */
  replaceDataObject(session: SessionHandle, label: string, value: Bytes): Promise<void>;

  /**
   * Optional: which AWS KMS wrapping algorithms this slot's device can perform inside itself, for drivers
   * whose devices are not described by PKCS#11 mechanisms (the YubiHSM). Absent: probeKmsCapabilities probes.
   */
  kmsCapabilities?(slot: SlotRef): Promise<KmsCapability[]>;

  /**
   * Optional: the device's own audit log entries after `cursor` (all it holds when null), digest chain
   * verified, for drivers whose device keeps such a log (the YubiHSM 2). null when it cannot be read now
   * (not logged in) or the session's device keeps none. See hsm/device-log.ts.
   */
  deviceLogSince?(session: SessionHandle, cursor: DeviceLogCursor | null): Promise<DeviceLogSlice | null>;

  /**
   * Optional, for devices that carry keys between themselves under their own wrap key (the YubiHSM 2:
   * EXPORT_WRAPPED): the key (a private or secret key handle) encrypted inside the device under `wrapKey`
   * (the domain's wrap key, 32 bytes), which is put into the device for this call only. Logged in as user.
   */
  exportUnderDomainWrapKey?(session: SessionHandle, key: ObjectHandle, wrapKey: Bytes): Promise<Bytes>;

  /**
   * Optional, the other half (IMPORT_WRAPPED): what exportUnderDomainWrapKey made on a device of the same
   * domain becomes the same key here (same id, label, capabilities); returns its handle.
   */
  importUnderDomainWrapKey?(session: SessionHandle, wrapped: Bytes, wrapKey: Bytes): Promise<ObjectHandle>;

  /**
   * Optional (YubiHSM 2, firmware 2.4: UNWRAP_KEY_RSA): an AES-256 key a PKCS#11 token wrapped as
   * CKM_RSA_AES_KEY_WRAP (OAEP SHA-1) under the domain RSA wrap key becomes a key here, made as
   * generateSecretKey would make it from `template`; the RSA private key (`rsaWrapKeyPkcs8`, PKCS#8 DER, bytes
   * so that it crosses the hardware host and the caller can wipe them) is in the device for this call only.
   */
  importAesUnderDomainRsaWrapKey?(session: SessionHandle, wrapped: Bytes, rsaWrapKeyPkcs8: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle>;

  /**
   * Optional, for devices with objects a PKCS#11 view leaves out (the YubiHSM 2): every object this login
   * may see, as the device describes it (all of them, or those with this id or label). See hsm/device-objects.ts.
   */
  deviceObjects?(session: SessionHandle, query?: DeviceObjectQuery): Promise<DeviceObject[] | null>;

  /** Optional, with deviceObjects: the object at this device address, or null when the device holds none there. */
  deviceObjectAt?(session: SessionHandle, typeCode: number, id: number): Promise<DeviceObject | null>;

  /** Close every session and finalize every module. */
  close(): Promise<void>;
}
