// The TokenLayer over pkcs11js. Every native call goes through a per-module queue (see module.ts), every
// exception leaves as a TokenError naming the module and slot, and every session is closed by close().
import type { Mechanism, PKCS11, Template } from 'pkcs11js';
import pkcs11js from 'pkcs11js';
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
  UnwrapTarget,
} from '../types.js';
import { parsePkcs11Uri, uriMatches } from '../uri.js';
import { ckrError, describeWhere, isCkr, toTokenError, type ErrorContext } from './ckr.js';
import { encryptMechanism, hashMechanism, signMechanism, spkiToTemplate, wrapMechanism } from './crypto.js';
import { decodeObjectHandle, decodeSlotInfo, decodeTokenInfo, encodeObjectHandle, paddedLabel, slotIdOf, slotPresent } from './info.js';
import { mechanismInfo } from './mechanisms.js';
import { loadModule, moduleContext, sameConfig, serialize, unloadModule, type LoadedModule } from './module.js';
import { SessionTable, closeNative, sessionContext, type SessionEntry } from './sessions.js';
import { ATTRIBUTES, dataHolderKeyTemplate, dataObjectTemplate, decodeAttribute, keyPairTemplates, queryTemplate, secretKeyTemplate, secretKeyValueTemplate, unwrapTemplate, CKA_NSS_DB } from './templates.js';

const { CKF_SERIAL_SESSION, CKF_RW_SESSION, CKU_USER, CKU_SO, CKA_VALUE, CKA_ID, CKA_LABEL, CKA_APPLICATION, CKA_TOKEN, CKA_PRIVATE } = pkcs11js;

// Output buffers are sized for the largest result we produce (an RSA-4096 private key wrapped with
// AES-KWP is about 2.4 kB), so one call suffices and no operation is left waiting for a second pass.
const WRAP_BUFFER = 16 * 1024;
const SIGN_BUFFER = 1024;
const DIGEST_BUFFER = 64;
const MAX_RANDOM = 64 * 1024;
const FIND_BATCH = 64;
// Input that completes any sign/digest operation a failed call left behind (SoftHSM keeps AES-CMAC
// active after rejecting an empty message).
const DUMMY_INPUT = Buffer.alloc(32, 0x5a);

interface ResolvedSlot {
  module: LoadedModule;
  slot: Buffer;
  slotId: string;
  /** As the slot list showed it, for naming the token in errors. */
  token?: TokenInfo;
  /** The token's label when one is present and initialised, so errors name it (not only the slot id). */
  tokenLabel?: string;
}

/** The error context of a resolved slot: module, slot and (when known) the token's label. */
function slotContext(r: ResolvedSlot, operation?: string): ErrorContext {
  return { ...moduleContext(r.module), slotId: r.slotId, ...(r.tokenLabel ? { tokenLabel: r.tokenLabel } : {}), ...(operation ? { operation } : {}) };
}

function bytesOut(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}

function toBuffer(b: Bytes, field: string): Buffer {
  if (!(b instanceof Uint8Array)) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `${field} must be bytes (Uint8Array)`);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function describeQuery(q: ObjectQuery): string {
  const parts: string[] = [];
  if (q.class !== undefined) parts.push(`class ${q.class}`);
  if (q.label !== undefined) parts.push(`label "${q.label}"`);
  if (q.id !== undefined) parts.push(`id ${Buffer.from(q.id).toString('hex') || '(empty)'}`);
  return parts.length ? parts.join(', ') : 'any object';
}

export class Pkcs11TokenLayer implements TokenLayer {
  private modules = new Map<string, LoadedModule>();
  private readonly sessions = new SessionTable();

  // ---- modules, slots, mechanisms ----

  async configureModules(configs: ModuleConfig[]): Promise<ModuleStatus[]> {
    const wanted = new Map<string, ModuleConfig>();
    for (const c of configs) {
      if (!c || typeof c.path !== 'string' || c.path === '') {
        throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'modules[].path must be a non-empty file path');
      }
      wanted.set(c.path, c);
    }
    const next = new Map<string, LoadedModule>();
    for (const [id, m] of this.modules) {
      const keep = wanted.get(id);
      if (keep && m.lib && sameConfig(keep, m.config)) {
        m.config = keep;
        m.status = { ...m.status, source: keep.source ?? 'user' };
        continue;
      }
      await this.unload(m);
    }
    for (const [path, config] of wanted) {
      const existing = this.modules.get(path);
      next.set(path, existing && existing.lib ? existing : loadModule(config));
    }
    this.modules = next;
    return this.listModules();
  }

  async listModules(): Promise<ModuleStatus[]> {
    return [...this.modules.values()].map((m) => structuredClone(m.status));
  }

  async listSlots(moduleId: string): Promise<SlotInfo[]> {
    const m = this.requireModule(moduleId);
    return this.call(m, moduleContext(m), (lib) => this.slotsOf(m, lib).map((s) => s.info));
  }

  async listMechanisms(ref: SlotRef): Promise<MechanismInfo[]> {
    const resolved = await this.resolveSlot(ref);
    const { module: m, slot } = resolved;
    return this.call(m, slotContext(resolved), (lib) =>
      lib.C_GetMechanismList(slot).map((code) => {
        try {
          return mechanismInfo(code, lib.C_GetMechanismInfo(slot, code));
        } catch {
          // Listed but not describable: report it with no capabilities rather than hide it.
          return mechanismInfo(code, { minKeySize: 0, maxKeySize: 0, flags: 0 });
        }
      }),
    );
  }

  async initToken(ref: SlotRef, soPin: string, label: string): Promise<void> {
    const resolved = await this.resolveSlot(ref);
    const { module: m, slot, slotId } = resolved;
    const ctx = slotContext(resolved, 'C_InitToken');
    const open = this.sessions.onSlot(m.id, slotId);
    if (open.length > 0) {
      throw new TokenError(
        'CKR_SESSION_EXISTS',
        `${describeWhere(ctx)}: ${open.length} session(s) of this application are still open on this token, so it cannot be initialised`,
        'Close every session on this token first (initialising erases it).',
      );
    }
    const padded = paddedLabel(label);
    if (typeof soPin !== 'string' || soPin === '') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'soPin must be a non-empty string');
    await this.call(m, ctx, (lib) => {
      lib.C_InitToken(slot, soPin, padded);
    });
  }

  // ---- sessions ----

  async openSession(target: SessionTarget, options: OpenSessionOptions): Promise<OpenedSession> {
    const resolved = 'uri' in target ? await this.resolveUri(target.uri) : await this.resolveSlot(target);
    const { module: m, slot, slotId } = resolved;
    const ctx = slotContext(resolved, 'C_OpenSession');
    return this.call(m, ctx, (lib) => {
      if (!slotPresent(lib.C_GetSlotInfo(slot))) throw ckrError(pkcs11js.CKR_TOKEN_NOT_PRESENT, ctx);
      const token = decodeTokenInfo(lib.C_GetTokenInfo(slot));
      if (!token.initialized) {
        throw new TokenError(
          'CKR_TOKEN_NOT_RECOGNIZED',
          `${describeWhere(ctx)}: the token has not been initialised`,
          'Run init-token for this slot (this sets the label and SO PIN), then set the user PIN.',
        );
      }
      ctx.tokenLabel = token.label;
      const flags = CKF_SERIAL_SESSION | (options?.readWrite ? CKF_RW_SESSION : 0);
      const native = lib.C_OpenSession(slot, flags);
      const entry = this.sessions.add({ module: m, slot, slotId, tokenLabel: token.label, readWrite: !!options?.readWrite, native });
      return { session: entry.id, moduleId: m.id, slotId, token };
    });
  }

  async closeSession(session: SessionHandle): Promise<void> {
    const s = this.sessions.get(session);
    this.sessions.remove(session);
    await serialize(s.module, () => closeNative(s.module.lib, s));
  }

  async login(session: SessionHandle, userType: UserType, pin: string): Promise<void> {
    if (userType !== 'user' && userType !== 'so') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `userType "${String(userType)}" must be "user" or "so"`);
    if (typeof pin !== 'string') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'pin must be a string');
    await this.onSession(session, (lib, s) => lib.C_Login(s.native, userType === 'so' ? CKU_SO : CKU_USER, pin), 'C_Login');
  }

  async logout(session: SessionHandle): Promise<void> {
    await this.onSession(session, (lib, s) => lib.C_Logout(s.native));
  }

  async initUserPin(session: SessionHandle, pin: string): Promise<void> {
    if (typeof pin !== 'string' || pin === '') throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'pin must be a non-empty string');
    await this.onSession(session, (lib, s) => lib.C_InitPIN(s.native, pin), 'C_InitPIN');
  }

  async setPin(session: SessionHandle, oldPin: string, newPin: string): Promise<void> {
    if (typeof oldPin !== 'string' || typeof newPin !== 'string' || newPin === '') {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'oldPin and newPin must be strings and newPin must not be empty');
    }
    await this.onSession(session, (lib, s) => lib.C_SetPIN(s.native, oldPin, newPin), 'C_SetPIN');
  }

  // ---- keys and objects ----

  async generateSecretKey(session: SessionHandle, spec: SecretKeySpec, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const { mechanism, template: t } = secretKeyTemplate(spec, template);
    return this.onSession(session, async (lib, s) => encodeObjectHandle(await lib.C_GenerateKeyAsync(s.native, { mechanism }, t)), 'C_GenerateKey');
  }

  async generateKeyPair(
    session: SessionHandle,
    spec: KeyPairSpec,
    publicTemplate: PublicKeyTemplate,
    privateTemplate: PrivateKeyTemplate,
  ): Promise<KeyPairHandles> {
    const t = keyPairTemplates(spec, publicTemplate, privateTemplate);
    return this.onSession(session, async (lib, s) => {
      const pair = await lib.C_GenerateKeyPairAsync(s.native, { mechanism: t.mechanism }, t.publicTemplate, t.privateTemplate);
      return { publicKey: encodeObjectHandle(pair.publicKey), privateKey: encodeObjectHandle(pair.privateKey) };
    }, 'C_GenerateKeyPair');
  }

  async createPublicKeyFromSpki(session: SessionHandle, spki: Bytes, template: PublicKeyObjectTemplate): Promise<ObjectHandle> {
    const { template: t } = spkiToTemplate(toBuffer(spki, 'spki'), template);
    return this.onSession(session, (lib, s) => encodeObjectHandle(lib.C_CreateObject(s.native, t)), 'C_CreateObject');
  }

  async getAttributes<N extends AttributeName>(session: SessionHandle, object: ObjectHandle, names: readonly N[]): Promise<Record<N, AttributeValue>> {
    const handle = decodeObjectHandle(object);
    for (const n of names) {
      if (!ATTRIBUTES[n]) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `attribute ${String(n)} is not one this token layer can read`);
    }
    return this.onSession(session, (lib, s) => this.readAttributes(lib, s, handle, names));
  }

  async findOne(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle> {
    const found = await this.findAll(session, query);
    const s = this.sessions.get(session);
    if (found.length === 1) return found[0] as ObjectHandle;
    if (found.length === 0) {
      throw new TokenError(
        ErrorCodes.OBJECT_NOT_FOUND,
        `${describeWhere(sessionContext(s))}: no object matches ${describeQuery(query)}`,
        'Check the label and id, and that the right custodian is logged in (private objects are invisible before login).',
      );
    }
    throw new TokenError(
      ErrorCodes.OBJECT_AMBIGUOUS,
      `${describeWhere(sessionContext(s))}: ${found.length} objects match ${describeQuery(query)}, expected exactly one`,
      'Give the objects distinct labels or ids, or remove the extra ones, so the ceremony cannot pick the wrong key.',
    );
  }

  async findAll(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle[]> {
    const template = queryTemplate(query ?? {});
    return this.onSession(session, (lib, s) => this.find(lib, s, template).map(encodeObjectHandle));
  }

  async destroyObject(session: SessionHandle, object: ObjectHandle): Promise<void> {
    const handle = decodeObjectHandle(object);
    await this.onSession(session, (lib, s) => lib.C_DestroyObject(s.native, handle));
  }

  // ---- cryptography ----

  async wrapKey(session: SessionHandle, mechanism: WrapMechanism, wrappingKey: ObjectHandle, key: ObjectHandle): Promise<Bytes> {
    const mech = wrapMechanism(mechanism);
    const wk = decodeObjectHandle(wrappingKey);
    const k = decodeObjectHandle(key);
    // C_WrapKey is a single call with no operation state, but a module could still report
    // CKR_OPERATION_ACTIVE from an earlier failure: withOperation swaps the session then.
    return this.onSession(session, (lib, s) =>
      this.withOperation(lib, s, async () => bytesOut(await lib.C_WrapKeyAsync(s.native, mech, wk, k, Buffer.alloc(WRAP_BUFFER))), undefined),
    );
  }

  async createSecretKey(session: SessionHandle, spec: SecretKeySpec, value: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    const t = secretKeyValueTemplate(spec, value, template);
    try {
      return await this.onSession(session, (lib, s) => encodeObjectHandle(lib.C_CreateObject(s.native, t)), 'C_CreateObject');
    } finally {
      // The template's copy of the key value: ours, cleared once the module has it.
      for (const a of t) if (Buffer.isBuffer(a.value)) a.value.fill(0);
    }
  }

  async unwrapKey(session: SessionHandle, mechanism: WrapMechanism, unwrappingKey: ObjectHandle, wrapped: Bytes, target: UnwrapTarget): Promise<ObjectHandle> {
    const mech = wrapMechanism(mechanism);
    const uk = decodeObjectHandle(unwrappingKey);
    const t = unwrapTemplate(target);
    const unwrap = (template: Template) => this.onSession(session, (lib, s) => this.withOperation(lib, s, async () => encodeObjectHandle(lib.C_UnwrapKey(s.native, mech, uk, Buffer.from(wrapped), template)), undefined), 'C_UnwrapKey');
    try {
      return await unwrap(t);
    } catch (error) {
      // NSS softoken stores an EC private key only with its public value (CKA_NSS_DB); other modules refuse
      // that vendor attribute, so it is offered only to a module that found the template incomplete.
      if (target.kind !== 'private' || !target.publicPoint || (error as { code?: string }).code !== 'CKR_TEMPLATE_INCOMPLETE') throw error;
      return unwrap([...t, { type: CKA_NSS_DB, value: Buffer.from(target.publicPoint) }]);
    }
  }

  async sign(session: SessionHandle, mechanism: SignMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    const mech = signMechanism(mechanism);
    const k = decodeObjectHandle(key);
    const input = toBuffer(data, 'data');
    return this.onSession(
      session,
      async (lib, s) => {
        try {
          return await this.withOperation(
            lib,
            s,
            async () => {
              lib.C_SignInit(s.native, mech, k);
              return bytesOut(await lib.C_SignAsync(s.native, input, Buffer.alloc(SIGN_BUFFER)));
            },
            (h) => lib.C_Sign(h, DUMMY_INPUT, Buffer.alloc(SIGN_BUFFER)),
          );
        } catch (e) {
          if (input.length === 0 && isCkr(e, 'CKR_ARGUMENTS_BAD')) {
            const base = toTokenError(e, sessionContext(s));
            throw new TokenError(base.code, `${describeWhere(sessionContext(s))}: the token does not accept an empty message for ${mechanism.name}`, 'Sign a non-empty message.');
          }
          throw e;
        }
      },
    );
  }

  async encrypt(session: SessionHandle, mechanism: EncryptMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    const mech = encryptMechanism(mechanism);
    const k = decodeObjectHandle(key);
    const input = toBuffer(data, 'data');
    return this.onSession(session, (lib, s) =>
      this.withOperation(
        lib,
        s,
        async () => {
          lib.C_EncryptInit(s.native, mech, k);
          // ECB output is as long as its input (whole blocks; the token refuses anything else).
          return bytesOut(await lib.C_EncryptAsync(s.native, input, Buffer.alloc(input.length + 16)));
        },
        (h) => lib.C_Encrypt(h, Buffer.alloc(16), Buffer.alloc(32)),
      ),
    );
  }

  async digest(session: SessionHandle, hash: HashName, data: Bytes): Promise<Bytes> {
    const mech: Mechanism = { mechanism: hashMechanism(hash) };
    const input = toBuffer(data, 'data');
    return this.onSession(session, (lib, s) =>
      this.withOperation(
        lib,
        s,
        async () => {
          lib.C_DigestInit(s.native, mech);
          return bytesOut(await lib.C_DigestAsync(s.native, input, Buffer.alloc(DIGEST_BUFFER)));
        },
        (h) => lib.C_Digest(h, DUMMY_INPUT, Buffer.alloc(DIGEST_BUFFER)),
      ),
    );
  }

  async random(session: SessionHandle, length: number): Promise<Bytes> {
    if (!Number.isInteger(length) || length < 1 || length > MAX_RANDOM) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `length ${String(length)} must be a whole number from 1 to ${MAX_RANDOM}`);
    }
    return this.onSession(session, (lib, s) => bytesOut(lib.C_GenerateRandom(s.native, Buffer.alloc(length))));
  }

  // ---- data objects ----

  async createDataObject(session: SessionHandle, template: DataObjectTemplate, value: Bytes): Promise<ObjectHandle> {
    const v = toBuffer(value, 'value');
    return this.onSession(session, async (lib, s) => {
      try {
        return encodeObjectHandle(lib.C_CreateObject(s.native, dataObjectTemplate(template, v)));
      } catch (e) {
        // NSS softoken keeps no token CKO_DATA object (CKR_ATTRIBUTE_VALUE_INVALID): the value goes into
        // the CKA_ID of a key of the same label that can do nothing (dataHolderKeyTemplate).
        if (!isCkr(e, 'CKR_ATTRIBUTE_VALUE_INVALID', 'CKR_TEMPLATE_INCONSISTENT', 'CKR_FUNCTION_NOT_SUPPORTED')) throw e;
        const { mechanism, template: t } = dataHolderKeyTemplate(template, v);
        return encodeObjectHandle(await lib.C_GenerateKeyAsync(s.native, { mechanism }, t));
      }
    });
  }

  /** The one object holding the value labelled `label`: a data object (CKA_VALUE), or the key standing in for one (CKA_ID). */
  private async findDataHolder(session: SessionHandle, label: string): Promise<{ handle: Buffer; holder: 'data' | 'key' }> {
    const keys = await this.findAll(session, { class: 'SECRET_KEY', label });
    if (keys.length === 0 || (await this.findAll(session, { class: 'DATA', label })).length > 0) {
      return { handle: decodeObjectHandle(await this.findOne(session, { class: 'DATA', label })), holder: 'data' };
    }
    return { handle: decodeObjectHandle(await this.findOne(session, { class: 'SECRET_KEY', label })), holder: 'key' };
  }

  async readDataObject(session: SessionHandle, label: string): Promise<Bytes> {
    const { handle, holder } = await this.findDataHolder(session, label);
    return this.onSession(session, (lib, s) => {
      const [attr] = lib.C_GetAttributeValue(s.native, handle, [{ type: holder === 'data' ? CKA_VALUE : CKA_ID }]);
      return bytesOut(attr?.value ?? Buffer.alloc(0));
    });
  }

  async replaceDataObject(session: SessionHandle, label: string, value: Bytes): Promise<void> {
    const { handle, holder } = await this.findDataHolder(session, label);
    const v = toBuffer(value, 'value');
    await this.onSession(session, (lib, s) => {
      try {
        lib.C_SetAttributeValue(s.native, handle, [{ type: holder === 'data' ? CKA_VALUE : CKA_ID, value: v }]);
        return;
      } catch (e) {
        if (holder === 'key' || !isCkr(e, 'CKR_ATTRIBUTE_READ_ONLY', 'CKR_ACTION_PROHIBITED', 'CKR_FUNCTION_NOT_SUPPORTED', 'CKR_TEMPLATE_INCONSISTENT')) throw e;
      }
      // The token will not change the value in place: create the replacement first, so a crash between
      // the two calls leaves two objects (detected by findOne as ambiguous), never none.
      const old = lib.C_GetAttributeValue(s.native, handle, [{ type: CKA_LABEL }, { type: CKA_APPLICATION }, { type: CKA_TOKEN }, { type: CKA_PRIVATE }]);
      const get = (i: number) => old[i]?.value ?? Buffer.alloc(0);
      const template: Template = dataObjectTemplate(
        { label: get(0).toString('utf8'), application: get(1).toString('utf8'), token: get(2)[0] === 1, private: get(3)[0] === 1 },
        v,
      );
      lib.C_CreateObject(s.native, template);
      lib.C_DestroyObject(s.native, handle);
    });
  }

  async close(): Promise<void> {
    for (const m of this.modules.values()) await this.unload(m);
    this.modules.clear();
  }

  // ---- internals ----

  private async unload(m: LoadedModule): Promise<void> {
    await serialize(m, () => {
      for (const s of this.sessions.onModule(m.id)) {
        closeNative(m.lib, s);
        this.sessions.remove(s.id);
      }
      unloadModule(m);
    });
  }

  private requireModule(moduleId: string): LoadedModule {
    const m = this.modules.get(moduleId);
    if (!m || !m.lib) {
      throw new TokenError(
        ErrorCodes.MODULE_NOT_LOADED,
        m ? `The PKCS#11 module ${moduleId} is configured but not loaded${m.status.error ? `: ${m.status.error.message}` : ''}` : `No PKCS#11 module ${String(moduleId)} is configured`,
        'Add or fix the module in the settings and reload the modules.',
      );
    }
    return m;
  }

  /** One native call sequence on a module, serialized, with every exception turned into a TokenError. */
  private async call<T>(m: LoadedModule, ctx: ErrorContext, fn: (lib: PKCS11) => T | Promise<T>): Promise<T> {
    return serialize(m, async () => {
      const lib = m.lib;
      if (!lib) throw new TokenError(ErrorCodes.MODULE_NOT_LOADED, `The PKCS#11 module ${m.id} was unloaded`, 'Reload the modules and open a new session.');
      try {
        return await fn(lib);
      } catch (e) {
        throw toTokenError(e, ctx);
      }
    });
  }

  /** `operation`: the C_ function, where a code needs a remedy of its own there (ckr.ts BY_FUNCTION). */
  private async onSession<T>(session: SessionHandle, fn: (lib: PKCS11, s: SessionEntry) => T | Promise<T>, operation?: string): Promise<T> {
    const s = this.sessions.get(session);
    return this.call(s.module, { ...sessionContext(s), ...(operation ? { operation } : {}) }, (lib) => {
      // The handle may have been closed while this call waited in the queue.
      this.sessions.get(session);
      return fn(lib, s);
    });
  }

  /**
   * Run an operation that may leave state in the session. After a failure, `finish` completes whatever the
   * module left active (its result is discarded); if a later call still finds an operation active, the
   * native session is replaced by a fresh one on the same token and the call is tried once more.
   */
  private async withOperation<T>(lib: PKCS11, s: SessionEntry, op: () => Promise<T>, finish: ((h: Buffer) => unknown) | undefined): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (isCkr(e, 'CKR_OPERATION_ACTIVE')) {
        this.replaceNative(lib, s);
        return await op();
      }
      if (finish) {
        try {
          finish(s.native);
        } catch {
          // CKR_OPERATION_NOT_INITIALIZED means nothing was left active: the usual, good case.
        }
      }
      throw e;
    }
  }

  private replaceNative(lib: PKCS11, s: SessionEntry): void {
    // Opened before the old one is set aside: login state belongs to the token, not the session, so the
    // new session is logged in exactly when the old one was. The old one stays open until the handle
    // closes, keeping the session objects it created alive.
    const fresh = lib.C_OpenSession(s.slot, CKF_SERIAL_SESSION | (s.readWrite ? CKF_RW_SESSION : 0));
    s.retired.push(s.native);
    s.native = fresh;
  }

  private readAttributes<N extends AttributeName>(lib: PKCS11, s: SessionEntry, handle: Buffer, names: readonly N[]): Record<N, AttributeValue> {
    const out = {} as Record<N, AttributeValue>;
    if (names.length === 0) return out;
    try {
      const values = lib.C_GetAttributeValue(s.native, handle, names.map((n) => ({ type: ATTRIBUTES[n].type })));
      names.forEach((n, i) => {
        const v = values[i];
        out[n] = v ? decodeAttribute(n, v.value) : null;
      });
      return out;
    } catch (e) {
      if (!isCkr(e, 'CKR_ATTRIBUTE_SENSITIVE', 'CKR_ATTRIBUTE_TYPE_INVALID')) throw e;
    }
    // pkcs11js throws for the whole template when one attribute is unreadable: ask one at a time.
    for (const n of names) {
      try {
        const [v] = lib.C_GetAttributeValue(s.native, handle, [{ type: ATTRIBUTES[n].type }]);
        out[n] = v ? decodeAttribute(n, v.value) : null;
      } catch (e) {
        if (!isCkr(e, 'CKR_ATTRIBUTE_SENSITIVE', 'CKR_ATTRIBUTE_TYPE_INVALID')) throw e;
        out[n] = null;
      }
    }
    return out;
  }

  private find(lib: PKCS11, s: SessionEntry, template: Template): Buffer[] {
    try {
      lib.C_FindObjectsInit(s.native, template);
    } catch (e) {
      if (!isCkr(e, 'CKR_OPERATION_ACTIVE')) throw e;
      // A search left open by a failure elsewhere: end it and start ours.
      try {
        lib.C_FindObjectsFinal(s.native);
      } catch {
        this.replaceNative(lib, s);
      }
      lib.C_FindObjectsInit(s.native, template);
    }
    const found: Buffer[] = [];
    try {
      for (;;) {
        const batch = lib.C_FindObjects(s.native, FIND_BATCH);
        found.push(...batch);
        if (batch.length < FIND_BATCH) break;
      }
    } finally {
      try {
        lib.C_FindObjectsFinal(s.native);
      } catch {
        // The search is over either way.
      }
    }
    return found;
  }

  private slotsOf(m: LoadedModule, lib: PKCS11): { handle: Buffer; slotId: string; info: SlotInfo; token: TokenInfo | undefined }[] {
    return lib.C_GetSlotList(false).map((handle) => {
      const slotId = slotIdOf(handle);
      const native = lib.C_GetSlotInfo(handle);
      let token: TokenInfo | undefined;
      if (slotPresent(native)) {
        try {
          token = decodeTokenInfo(lib.C_GetTokenInfo(handle));
        } catch (e) {
          // Removed between the two calls: report the slot as empty rather than fail the whole list.
          if (!isCkr(e, 'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_SLOT_ID_INVALID', 'CKR_TOKEN_NOT_RECOGNIZED')) throw e;
        }
      }
      return { handle, slotId, info: decodeSlotInfo(m.id, slotId, native, token), token };
    });
  }

  private async resolveSlot(ref: SlotRef): Promise<ResolvedSlot> {
    if (!ref || typeof ref.moduleId !== 'string' || typeof ref.slotId !== 'string' || !/^[0-9]+$/.test(ref.slotId)) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, 'slot must be { moduleId, slotId } with slotId a decimal string');
    }
    const m = this.requireModule(ref.moduleId);
    return this.call(m, { ...moduleContext(m), slotId: ref.slotId }, (lib) => {
      const handle = lib.C_GetSlotList(false).find((h) => slotIdOf(h) === ref.slotId);
      if (!handle) {
        throw new TokenError(
          ErrorCodes.SLOT_NOT_FOUND,
          `${describeWhere(moduleContext(m))}: slot ${ref.slotId} does not exist (any more)`,
          'Refresh the list of tokens and choose the token again; slot numbers change when tokens are replugged or initialised.',
        );
      }
      let tokenLabel: string | undefined;
      try {
        const info = decodeTokenInfo(lib.C_GetTokenInfo(handle));
        if (info.initialized && info.label !== '') tokenLabel = info.label;
      } catch {
        // No token, or it went away: the call that follows says so itself.
      }
      return { module: m, slot: handle, slotId: ref.slotId, ...(tokenLabel ? { tokenLabel } : {}) };
    });
  }

  private async resolveUri(uri: string): Promise<ResolvedSlot> {
    const parsed = parsePkcs11Uri(uri);
    const matches: ResolvedSlot[] = [];
    const attached: string[] = [];
    for (const m of this.modules.values()) {
      if (!m.lib) continue;
      const lib = m.lib;
      const slots = await this.call(m, moduleContext(m), () => this.slotsOf(m, lib));
      const library = m.status.library;
      const versionMatch = /^(\d+)\.(\d+)$/.exec(library?.libraryVersion ?? '');
      for (const s of slots) {
        const where = describeWhere({ ...moduleContext(m), slotId: s.slotId });
        attached.push(s.token ? `"${s.token.label}" (${where})` : `empty ${where}`);
        const target: Parameters<typeof uriMatches>[1] = {
          module: {
            path: m.config.path,
            ...(library ? { manufacturer: library.manufacturer, description: library.description } : {}),
            ...(versionMatch ? { version: { major: Number(versionMatch[1]), minor: Number(versionMatch[2]) } } : {}),
          },
          slot: { slotId: s.slotId, description: s.info.description, manufacturer: s.info.manufacturer },
          ...(s.token ? { token: s.token } : {}),
        };
        if (uriMatches(parsed, target)) matches.push({ module: m, slot: s.handle, slotId: s.slotId, ...(s.token ? { token: s.token } : {}), ...(s.token?.initialized && s.token.label.trim() ? { tokenLabel: s.token.label.trim() } : {}) });
      }
    }
    const list = attached.length ? attached.join('; ') : 'none';
    if (matches.length === 0) {
      throw new TokenError(ErrorCodes.TOKEN_NOT_FOUND, `No token matches ${uri}. Attached: ${list}`, 'Connect the token, or correct the token URI in the ceremony configuration.');
    }
    if (matches.length > 1) {
      const which = matches.map((r) => describeWhere({ ...moduleContext(r.module), slotId: r.slotId })).join('; ');
      // A label names a token only while it is unique: twins get words, never a guess (tokens are told
      // apart by their audit key; serials may repeat too: tpm2-pkcs11 reports zeros for every token).
      const labels = [...new Set(matches.map((r) => (r.token?.label ?? '').trim()))];
      const twins = labels.length === 1 && parsed.path.token !== undefined;
      throw new TokenError(
        ErrorCodes.TOKEN_AMBIGUOUS,
        `${matches.length} tokens match ${uri}${twins ? `: they share the label '${labels[0]}', so the label does not say which one` : ''}: ${which}`,
        twins
          ? 'Choose the token from the list of tokens (by slot), or add slot-id=N to the URI; disconnect the other token if you cannot tell them apart.'
          : 'Make the URI more specific (add serial=... or model=..., or slot-id=N), or disconnect the other tokens.',
      );
    }
    return matches[0] as ResolvedSlot;
  }
}
