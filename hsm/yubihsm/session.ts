// A YubiHSM connection (plain commands) and authenticated sessions over it (SCP03-style secure channel).
import { randomBytes } from 'node:crypto';
import { concat, equalBytes, Reader, u16, u8 } from './bytes.js';
import { Command, MAC_LENGTH, MAX_MESSAGE_2_4, MAX_MESSAGE_LEGACY, RESPONSE_FLAG, DeviceError, commandName } from './constants.js';
import {
  aesCmac,
  cardCryptogram,
  cbcDecrypt,
  cbcEncrypt,
  deriveSessionKeys,
  hostCryptogram,
  messageIv,
  pad80,
  passwordToKeys,
  unpad80,
  type SessionKeys,
  type StaticKeys,
} from './crypto.js';
import { YubiHsmErrorCodes, deviceError, protocolError } from './errors.js';
import { badResponse, decodeFrame, encodeFrame, expectResponse } from './frame.js';
import type { YubiHsmTransport } from './transport.js';

export interface DeviceInfo {
  version: { major: number; minor: number; patch: number };
  serial: number;
  logSize: number;
  logUsed: number;
  algorithms: number[];
  /** Second page of DEVICE_INFO, firmware 2.4 and later. */
  partNumber?: string;
}

export function parseDeviceInfo(first: Uint8Array, second?: Uint8Array): DeviceInfo {
  const r = new Reader(first);
  const version = { major: r.u8(), minor: r.u8(), patch: r.u8() };
  const serial = r.u32();
  const logSize = r.u8();
  const logUsed = r.u8();
  const algorithms = [...r.rest()];
  const info: DeviceInfo = { version, serial, logSize, logUsed, algorithms };
  if (second) info.partNumber = new TextDecoder().decode(second);
  return info;
}

export const atLeast = (v: DeviceInfo['version'], major: number, minor: number, patch = 0) =>
  v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch;

/** Serialises use of the transport: the device handles one message at a time, and a session's counter must not interleave. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export interface OpenSessionOptions {
  /** For reproducing published test vectors only; otherwise 8 random bytes. */
  hostChallenge?: Uint8Array;
}

/** An unauthenticated connection to one YubiHSM. */
export class YubiHsm {
  private readonly queue = new Queue();
  private maxMessage = MAX_MESSAGE_LEGACY;
  private readonly sessions = new Set<YubiHsmSession>();
  info: DeviceInfo | undefined;

  private constructor(readonly transport: YubiHsmTransport) {}

  /** Connect and read the device information (which also fixes the largest message this firmware takes). */
  static async connect(transport: YubiHsmTransport): Promise<YubiHsm> {
    const hsm = new YubiHsm(transport);
    await hsm.deviceInfo();
    return hsm;
  }

  get maxMessageSize(): number {
    return this.maxMessage;
  }

  /** Send one whole frame and return the raw answer. Everything goes through here, one at a time. */
  transceive(frame: Uint8Array): Promise<Uint8Array> {
    if (frame.length > this.maxMessage)
      return Promise.reject(
        protocolError(
          YubiHsmErrorCodes.MESSAGE_TOO_LONG,
          `A ${commandName(frame[0] ?? 0)} message of ${frame.length} bytes is longer than this YubiHSM accepts (${this.maxMessage}).`,
          'This is a defect in the application; report it.',
        ),
      );
    return this.queue.run(() => this.transport.send(frame));
  }

  async sendPlain(command: number, payload?: Uint8Array): Promise<Uint8Array> {
    return expectResponse(await this.transceive(encodeFrame(command, payload)), command);
  }

  async deviceInfo(): Promise<DeviceInfo> {
    const first = await this.sendPlain(Command.DEVICE_INFO);
    let info = parseDeviceInfo(first);
    if (atLeast(info.version, 2, 4)) {
      this.maxMessage = MAX_MESSAGE_2_4;
      info = parseDeviceInfo(first, await this.sendPlain(Command.DEVICE_INFO, Uint8Array.of(1)));
    }
    this.info = info;
    return info;
  }

  async echo(data: Uint8Array): Promise<Uint8Array> {
    return this.sendPlain(Command.ECHO, data);
  }

  /** Open an authenticated session with authentication key `authKeyId` and its password (or raw K-ENC/K-MAC). */
  async openSession(authKeyId: number, credential: string | StaticKeys, options: OpenSessionOptions = {}): Promise<YubiHsmSession> {
    const keys = typeof credential === 'string' ? passwordToKeys(credential) : credential;
    const hostChallenge = options.hostChallenge ?? new Uint8Array(randomBytes(8));
    if (hostChallenge.length !== 8) throw new RangeError('the host challenge is 8 bytes');

    const created = await this.sendPlain(Command.CREATE_SESSION, concat(u16(authKeyId), hostChallenge));
    if (created.length !== 17) throw badResponse(`CREATE_SESSION answered ${created.length} bytes, expected 17`);
    const sessionId = created[0] as number;
    const cardChallenge = created.subarray(1, 9);
    const cardCrypto = created.subarray(9, 17);
    const context = concat(hostChallenge, cardChallenge);
    const sessionKeys = deriveSessionKeys(keys, context);
    const cardOk = equalBytes(cardCryptogram(sessionKeys.sMac, context), cardCrypto);

    // AUTHENTICATE_SESSION goes out even when the card cryptogram is wrong (as Yubico's C library does), so
    // the device rejects it and frees the half-open session instead of holding it until it times out.
    const body = concat(encodeFrame(Command.AUTHENTICATE_SESSION, concat(u8(sessionId), hostCryptogram(sessionKeys.sMac, context), new Uint8Array(MAC_LENGTH))));
    const unmacced = body.subarray(0, body.length - MAC_LENGTH);
    const chain = aesCmac(sessionKeys.sMac, concat(new Uint8Array(16), unmacced));
    body.set(chain.subarray(0, MAC_LENGTH), unmacced.length);
    const raw = await this.transceive(body);
    const frame = decodeFrame(raw);
    if (frame?.command === Command.ERROR && frame.payload[0] === DeviceError.AUTHENTICATION_FAILED)
      throw protocolError(
        YubiHsmErrorCodes.WRONG_PASSWORD,
        `The YubiHSM did not accept the password of authentication key ${authKeyId}.`,
        'Re-enter the password (and check the authentication key id). The device counts nothing against you, but every attempt is visible in its log if command audit is on.',
      );
    const answer = expectResponse(raw, Command.AUTHENTICATE_SESSION);
    if (answer.length !== 0) throw badResponse(`AUTHENTICATE_SESSION answered ${answer.length} bytes, expected none`);
    if (!cardOk)
      throw protocolError(
        YubiHsmErrorCodes.WRONG_PASSWORD,
        `The device did not prove that it holds authentication key ${authKeyId} (its card cryptogram is wrong), although it accepted ours.`,
        'Do not use this device: it may not be a genuine YubiHSM, or something between it and this computer is interfering.',
      );
    const session = new YubiHsmSession(this, sessionId, authKeyId, sessionKeys, chain, () => this.sessions.delete(session));
    this.sessions.add(session);
    return session;
  }

  /** Close every session (best effort) and the transport. */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) await s.close().catch(() => undefined);
    await this.transport.close();
  }
}

/** An authenticated, encrypted and MAC'd session. */
export class YubiHsmSession {
  private counter = 1n;
  private state: 'open' | 'closed' | 'broken' = 'open';
  /** One message at a time per session: the MAC chain and counter of a message depend on the answer to the one before. */
  private readonly inFlight = new Queue();

  constructor(
    private readonly hsm: YubiHsm,
    readonly id: number,
    readonly authKeyId: number,
    private keys: SessionKeys,
    private chain: Uint8Array,
    private readonly onClose: () => void,
  ) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Send `command` with `payload` inside the session; returns the decrypted response payload. Calls that overlap
   * (a keep-alive ECHO while a step's command waits for its answer) are sent one after the other: two messages
   * MAC'd on the same chain value would make the device refuse the second and close the session.
   */
  send(command: number, payload: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    return this.inFlight.run(() => this.sendNow(command, payload));
  }

  private async sendNow(command: number, payload: Uint8Array): Promise<Uint8Array> {
    if (this.state !== 'open')
      throw protocolError(
        YubiHsmErrorCodes.SESSION_CLOSED,
        `YubiHSM session ${this.id} is ${this.state === 'broken' ? 'no longer trustworthy after an integrity failure' : 'closed'}.`,
        'Open a new session.',
      );
    const inner = pad80(encodeFrame(command, payload));
    const iv = messageIv(this.keys.sEnc, this.counter);
    const body = encodeFrame(Command.SESSION_MESSAGE, concat(u8(this.id), cbcEncrypt(this.keys.sEnc, iv, inner), new Uint8Array(MAC_LENGTH)));
    const unmacced = body.subarray(0, body.length - MAC_LENGTH);
    const chain = aesCmac(this.keys.sMac, concat(this.chain, unmacced));
    body.set(chain.subarray(0, MAC_LENGTH), unmacced.length);

    let raw: Uint8Array;
    try {
      raw = await this.hsm.transceive(body);
    } catch (e) {
      this.fail('broken');
      throw e;
    }
    const frame = decodeFrame(raw);
    if (!frame) {
      this.fail('broken');
      throw badResponse(`the answer to ${commandName(command)} was cut short`);
    }
    if (frame.command === Command.ERROR) {
      // An error outside the envelope: the device refused the envelope itself (bad MAC, unknown session).
      this.fail('closed');
      throw deviceError(frame.payload[0] ?? 0xff, command);
    }
    if (frame.command !== (Command.SESSION_MESSAGE | RESPONSE_FLAG) || frame.payload.length < 1 + 16 + MAC_LENGTH || (frame.payload.length - 1 - MAC_LENGTH) % 16 !== 0) {
      this.fail('broken');
      throw badResponse(`the session answer to ${commandName(command)} is malformed`);
    }
    // The device has accepted our message: both ends move on to the next counter and MAC chain value.
    this.counter += 1n;
    this.chain = chain;
    const macStart = 3 + frame.payload.length - MAC_LENGTH;
    const rmac = aesCmac(this.keys.sRmac, concat(chain, raw.subarray(0, macStart))).subarray(0, MAC_LENGTH);
    if (!equalBytes(rmac, raw.subarray(macStart, macStart + MAC_LENGTH))) {
      this.fail('broken');
      throw protocolError(
        YubiHsmErrorCodes.RESPONSE_MAC_MISMATCH,
        `The answer from the YubiHSM to ${commandName(command)} failed its integrity check (MAC): it may have been altered on the way. Nothing in it was used.`,
        'Check the USB cable or connector, open a new session and repeat the step; record the incident.',
      );
    }
    if (frame.payload[0] !== this.id) {
      this.fail('broken');
      throw badResponse(`the answer came for session ${frame.payload[0]}, not ${this.id}`);
    }
    const plain = unpad80(cbcDecrypt(this.keys.sEnc, iv, frame.payload.subarray(1, frame.payload.length - MAC_LENGTH)));
    const innerFrame = plain && decodeFrame(plain);
    if (!plain || !innerFrame || plain.length !== 3 + innerFrame.payload.length) {
      this.fail('broken');
      throw badResponse(`the decrypted answer to ${commandName(command)} is malformed`);
    }
    return new Uint8Array(expectResponse(plain, command));
  }

  /** CLOSE_SESSION; afterwards the session cannot be used. Closing a closed session does nothing. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'open') await this.send(Command.CLOSE_SESSION);
    } finally {
      this.fail('closed');
    }
  }

  /** After RESET_DEVICE the device forgets every session. */
  markClosed(): void {
    this.fail('closed');
  }

  private fail(state: 'closed' | 'broken') {
    this.state = state;
    if (state === 'closed') {
      this.keys = { sEnc: new Uint8Array(16), sMac: new Uint8Array(16), sRmac: new Uint8Array(16) };
      this.onClose();
    }
  }
}
