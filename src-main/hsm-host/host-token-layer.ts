// The app's TokenLayer when the tokens live in the token host process (host-main.ts). Each call is sent as
// { id, method, args } and its reply matched by id. When the host dies (a vendor module crashing, SIGKILL)
// every pending call is rejected with HOST_EXITED naming how it died, and the next call forks a fresh host
// with the same module list. Sessions do not survive a host: their handles carry the host's generation,
// so a stale one is refused as not open instead of reaching a new session that happens to share its number.
import type { ChildProcess } from 'node:child_process';
import { ErrorCodes, TokenError } from '../../hsm/errors.js';
import type { EncryptMechanism, TokenLayer } from '../../hsm/token.js';
import type { DeviceLogCursor, DeviceLogSlice } from '../../hsm/device-log.js';
import type { DeviceObject, DeviceObjectQuery } from '../../hsm/device-objects.js';
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
  UserType,
  WrapMechanism,
  UnwrapTarget,
} from '../../hsm/types.js';
import { defaultHostEntry, forkHost } from './fork-host.js';
import { HostErrorCodes, type HostErrorData, type HostMethod, type HostReply } from './protocol.js';

export interface HostTokenLayerOptions {
  /** Passed to the host, which builds its layer with createTokenLayer(dataDir). */
  dataDir: string;
  /** The built host entry (default: hsm-host.js beside this code once built). */
  entry?: string;
  /** How long close() waits for the host to finalize its modules before killing it. */
  closeTimeoutMs?: number;
}

interface Pending {
  method: HostMethod;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Host {
  child: ChildProcess;
  generation: number;
  pending: Map<number, Pending>;
  /** The module list replayed into a fresh host; calls wait for it. Never rejects. */
  ready: Promise<void>;
  /** Set once the process is gone: how it ended, for calls that arrive after. */
  ended?: string;
  closing: boolean;
}

const SESSION_PREFIX = /^h(\d+)\/(.*)$/s;

export class HostTokenLayer implements TokenLayer {
  private host: Host | undefined;
  private generation = 0;
  private nextId = 1;
  /** The last module list the host accepted: a fresh host is configured with it before its first call. */
  private modules: ModuleConfig[] | undefined;
  private readonly entry: string;

  constructor(private readonly options: HostTokenLayerOptions) {
    this.entry = options.entry ?? defaultHostEntry();
  }

  /** The running host's process id, for diagnostics and tests; undefined before the first call and after it died. */
  get hostPid(): number | undefined {
    return this.host?.ended === undefined ? this.host?.child.pid : undefined;
  }

  async configureModules(modules: ModuleConfig[]): Promise<ModuleStatus[]> {
    // No replay before this call: it replaces the list, and replaying a list whose module crashes the host
    // would make the list impossible to change.
    const status = await this.call<ModuleStatus[]>('configureModules', [modules], { replay: false });
    this.modules = modules;
    return status;
  }
  listModules(): Promise<ModuleStatus[]> {
    return this.call('listModules', []);
  }
  listSlots(moduleId: string): Promise<SlotInfo[]> {
    return this.call('listSlots', [moduleId]);
  }
  listMechanisms(slot: SlotRef): Promise<MechanismInfo[]> {
    return this.call('listMechanisms', [slot]);
  }
  kmsCapabilities(slot: SlotRef): Promise<KmsCapability[]> {
    return this.call('kmsCapabilities', [slot]);
  }
  initToken(slot: SlotRef, soPin: string, label: string): Promise<void> {
    return this.call('initToken', [slot, soPin, label]);
  }
  async openSession(target: SessionTarget, options: OpenSessionOptions): Promise<OpenedSession> {
    const host = await this.ensure(true);
    const opened = await this.send<OpenedSession>(host, 'openSession', [target, options]);
    return { ...opened, session: `h${host.generation}/${opened.session}` };
  }
  closeSession(session: SessionHandle): Promise<void> {
    return this.onSession('closeSession', session, []);
  }
  login(session: SessionHandle, userType: UserType, pin: string): Promise<void> {
    return this.onSession('login', session, [userType, pin]);
  }
  logout(session: SessionHandle): Promise<void> {
    return this.onSession('logout', session, []);
  }
  initUserPin(session: SessionHandle, pin: string): Promise<void> {
    return this.onSession('initUserPin', session, [pin]);
  }
  setPin(session: SessionHandle, oldPin: string, newPin: string): Promise<void> {
    return this.onSession('setPin', session, [oldPin, newPin]);
  }
  generateSecretKey(session: SessionHandle, spec: SecretKeySpec, template: SecretKeyTemplate): Promise<ObjectHandle> {
    return this.onSession('generateSecretKey', session, [spec, template]);
  }
  generateKeyPair(session: SessionHandle, spec: KeyPairSpec, publicTemplate: PublicKeyTemplate, privateTemplate: PrivateKeyTemplate): Promise<KeyPairHandles> {
    return this.onSession('generateKeyPair', session, [spec, publicTemplate, privateTemplate]);
  }
  createPublicKeyFromSpki(session: SessionHandle, spki: Bytes, template: PublicKeyObjectTemplate): Promise<ObjectHandle> {
    return this.onSession('createPublicKeyFromSpki', session, [spki, template]);
  }
  getAttributes<N extends AttributeName>(session: SessionHandle, object: ObjectHandle, names: readonly N[]): Promise<Record<N, AttributeValue>> {
    return this.onSession('getAttributes', session, [object, names]);
  }
  findOne(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle> {
    return this.onSession('findOne', session, [query]);
  }
  findAll(session: SessionHandle, query: ObjectQuery): Promise<ObjectHandle[]> {
    return this.onSession('findAll', session, [query]);
  }
  destroyObject(session: SessionHandle, object: ObjectHandle): Promise<void> {
    return this.onSession('destroyObject', session, [object]);
  }
  wrapKey(session: SessionHandle, mechanism: WrapMechanism, wrappingKey: ObjectHandle, key: ObjectHandle): Promise<Bytes> {
    return this.onSession('wrapKey', session, [mechanism, wrappingKey, key]);
  }
  createSecretKey(session: SessionHandle, spec: SecretKeySpec, value: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    return this.onSession('createSecretKey', session, [spec, value, template]);
  }
  unwrapKey(session: SessionHandle, mechanism: WrapMechanism, unwrappingKey: ObjectHandle, wrapped: Bytes, target: UnwrapTarget): Promise<ObjectHandle> {
    return this.onSession('unwrapKey', session, [mechanism, unwrappingKey, wrapped, target]);
  }
  sign(session: SessionHandle, mechanism: SignMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    return this.onSession('sign', session, [mechanism, key, data]);
  }
  digest(session: SessionHandle, hash: HashName, data: Bytes): Promise<Bytes> {
    return this.onSession('digest', session, [hash, data]);
  }
  encrypt(session: SessionHandle, mechanism: EncryptMechanism, key: ObjectHandle, data: Bytes): Promise<Bytes> {
    return this.onSession('encrypt', session, [mechanism, key, data]);
  }
  random(session: SessionHandle, length: number): Promise<Bytes> {
    return this.onSession('random', session, [length]);
  }
  createDataObject(session: SessionHandle, template: DataObjectTemplate, value: Bytes): Promise<ObjectHandle> {
    return this.onSession('createDataObject', session, [template, value]);
  }
  readDataObject(session: SessionHandle, label: string): Promise<Bytes> {
    return this.onSession('readDataObject', session, [label]);
  }
  replaceDataObject(session: SessionHandle, label: string, value: Bytes): Promise<void> {
    return this.onSession('replaceDataObject', session, [label, value]);
  }
  deviceLogSince(session: SessionHandle, cursor: DeviceLogCursor | null): Promise<DeviceLogSlice | null> {
    return this.onSession('deviceLogSince', session, [cursor]);
  }
  exportUnderDomainWrapKey(session: SessionHandle, key: ObjectHandle, wrapKey: Bytes): Promise<Bytes> {
    return this.onSession('exportUnderDomainWrapKey', session, [key, wrapKey]);
  }
  importUnderDomainWrapKey(session: SessionHandle, wrapped: Bytes, wrapKey: Bytes): Promise<ObjectHandle> {
    return this.onSession('importUnderDomainWrapKey', session, [wrapped, wrapKey]);
  }
  importAesUnderDomainRsaWrapKey(session: SessionHandle, wrapped: Bytes, rsaWrapKeyPkcs8: Bytes, template: SecretKeyTemplate): Promise<ObjectHandle> {
    return this.onSession('importAesUnderDomainRsaWrapKey', session, [wrapped, rsaWrapKeyPkcs8, template]);
  }
  deviceObjects(session: SessionHandle, query: DeviceObjectQuery = {}): Promise<DeviceObject[] | null> {
    return this.onSession('deviceObjects', session, [query]);
  }
  deviceObjectAt(session: SessionHandle, typeCode: number, id: number): Promise<DeviceObject | null> {
    return this.onSession('deviceObjectAt', session, [typeCode, id]);
  }

  /** Disconnect the host, which closes every session and finalizes its modules; killed if it does not end in time. */
  async close(): Promise<void> {
    this.modules = undefined;
    const host = this.host;
    this.host = undefined;
    if (!host || host.ended !== undefined) return;
    host.closing = true;
    const ended = new Promise<void>((done) => host.child.once('exit', () => done()));
    if (host.child.connected) host.child.disconnect();
    const timer = setTimeout(() => host.child.kill('SIGKILL'), this.options.closeTimeoutMs ?? 10_000);
    try {
      await ended;
    } finally {
      clearTimeout(timer);
    }
  }

  private async onSession<T>(method: HostMethod, session: SessionHandle, rest: unknown[]): Promise<T> {
    const m = SESSION_PREFIX.exec(String(session));
    const host = this.host;
    // A handle from a host that has since died (or from no host at all) names a session that is gone.
    if (!m || !host || host.ended !== undefined || Number(m[1]) !== host.generation) {
      throw new TokenError(ErrorCodes.SESSION_UNKNOWN, `Session ${String(session)} is not open (the token host that opened it has stopped).`, 'Open a new session on the token.');
    }
    await host.ready;
    return this.send<T>(host, method, [m[2], ...rest]);
  }

  private async call<T>(method: HostMethod, args: unknown[], o: { replay: boolean } = { replay: true }): Promise<T> {
    return this.send<T>(await this.ensure(o.replay), method, args);
  }

  /** The running host, or a fresh one (configured with the last module list unless `replay` is false). */
  private async ensure(replay: boolean): Promise<Host> {
    let host = this.host;
    if (!host || host.ended !== undefined) host = this.start(replay);
    await host.ready;
    return host;
  }

  private start(replay: boolean): Host {
    const child = forkHost(this.entry, this.options.dataDir);
    const host: Host = { child, generation: ++this.generation, pending: new Map(), ready: Promise.resolve(), closing: false };
    this.host = host;
    child.on('message', (reply: unknown) => this.onReply(host, reply));
    child.once('exit', (code, signal) => this.onEnded(host, signal ? `signal ${signal}` : `exit code ${code}`));
    // A process that could not be started emits 'error' and may never emit 'exit'.
    child.on('error', (error) => {
      if (child.pid === undefined) this.onEnded(host, `could not start: ${error.message}`);
    });
    const modules = this.modules;
    if (replay && modules) {
      // A failure here shows on the call that waits for it (the host answers it too, or it died).
      host.ready = this.send(host, 'configureModules', [modules]).then(
        () => undefined,
        () => undefined,
      );
    }
    return host;
  }

  private send<T>(host: Host, method: HostMethod, args: unknown[]): Promise<T> {
    if (host.ended !== undefined) return Promise.reject(this.endedError(host, method));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      host.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
      const failed = (error: Error) => {
        if (host.pending.delete(id)) reject(new TokenError(ErrorCodes.INVALID_ARGUMENT, `${method} could not be sent to the token host: ${error.message}`, 'Report this: the app passed something that is not plain data.'));
      };
      try {
        host.child.send({ id, method, args }, (error) => error && failed(error));
      } catch (error) {
        failed(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private onReply(host: Host, message: unknown): void {
    const reply = message as HostReply;
    const pending = typeof reply?.id === 'number' ? host.pending.get(reply.id) : undefined;
    if (!pending) return;
    host.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(rebuildError(reply.error));
  }

  private onEnded(host: Host, how: string): void {
    if (host.ended !== undefined) return;
    host.ended = how;
    if (this.host === host) this.host = undefined;
    for (const [, p] of host.pending) p.reject(this.endedError(host, p.method));
    host.pending.clear();
  }

  private endedError(host: Host, method: HostMethod): TokenError {
    if (host.closing) return new TokenError(HostErrorCodes.HOST_EXITED, `The token layer was closed while ${method} was running.`, 'Start the operation again.');
    return new TokenError(
      HostErrorCodes.HOST_EXITED,
      `The token host process stopped (${host.ended}) while ${method} was running: the token may need to be reconnected.`,
      // Retry works for the home screen and settings; a ceremony's session died with the host, so the
      // ceremony service lets the run go and the room resumes it from Home (ceremony-host.test.ts).
      'Reconnect the token if it was unplugged, then press Retry: a fresh token host starts with the same modules. Sessions open on the stopped host are gone: a running ceremony stops and is resumed from Home.',
    );
  }
}

function rebuildError(data: HostErrorData): Error {
  if (data.kind === 'token') return new TokenError(data.code, data.message, data.remedy);
  // Not a coded error: a bug in a driver. Keep its class name so toErrorData reports it as internal.
  const error = new Error(data.message);
  error.name = data.name;
  return error;
}
