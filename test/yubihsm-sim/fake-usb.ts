// A fake WebUSB YubiHSM backed by the simulator, with USB bulk semantics (a transfer ending in a full
// 64-byte packet needs a zero-length packet), for transport and token-layer tests without a device.
import type { UsbDeviceLike, UsbLike } from '../../hsm/yubihsm/transport-usb.js';
import type { YubiHsmSimulator } from './device.js';

export class FakeYubiHsmUsb implements UsbDeviceLike {
  readonly vendorId = 0x1050;
  readonly productId = 0x0030;
  opened = false;
  configuration: { configurationValue: number } | null = null;
  claimed = false;
  unplugged = false;
  readonly writes: number[] = [];
  private pending: Uint8Array[] = [];
  private answer: Uint8Array | undefined;

  constructor(
    readonly serialNumber: string,
    private readonly device: YubiHsmSimulator,
  ) {}

  async open() {
    this.opened = true;
  }
  async close() {
    this.opened = false;
  }
  async selectConfiguration(v: number) {
    this.configuration = { configurationValue: v };
  }
  async claimInterface(n: number) {
    if (n !== 0) throw new Error(`claimed interface ${n}, expected 0`);
    this.claimed = true;
  }
  async releaseInterface() {
    this.claimed = false;
  }
  /**
   * The cable is pulled after this many more complete request frames: the next frame never reaches the
   * device, the transfer fails as node-usb's does (LIBUSB_ERROR_NO_DEVICE) and `onPull` runs (the host's
   * disconnect event and the device leaving the list). Undefined: never.
   */
  pullAfterFrames: number | undefined;
  onPull: (() => void) | undefined;

  async transferOut(endpoint: number, data: Uint8Array) {
    if (this.unplugged) throw new Error('LIBUSB_ERROR_NO_DEVICE');
    if (this.pullAfterFrames !== undefined && (data.length % 64 !== 0 || data.length === 0)) {
      if (this.pullAfterFrames === 0) {
        this.pullAfterFrames = undefined;
        this.onPull?.();
        this.unplugged = true;
        throw new Error('LIBUSB_ERROR_NO_DEVICE');
      }
      this.pullAfterFrames--;
    }
    if (endpoint !== 1) throw new Error(`wrote to endpoint ${endpoint}, expected 1`);
    this.writes.push(data.length);
    this.pending.push(data.slice());
    // USB bulk semantics: a transfer ending in a full 64-byte packet is not finished until a short packet.
    if (data.length % 64 !== 0 || data.length === 0) {
      const frame = Buffer.concat(this.pending);
      this.pending = [];
      this.answer = this.device.process(new Uint8Array(frame));
    }
    return { bytesWritten: data.length, status: 'ok' };
  }
  async transferIn(endpoint: number, length: number) {
    if (this.unplugged) throw new Error('LIBUSB_ERROR_NO_DEVICE');
    if (endpoint !== 1) throw new Error(`read from endpoint ${endpoint}, expected 1`);
    if (length < 3136) throw new Error(`read buffer of ${length} bytes is smaller than the largest message (3136)`);
    if (!this.answer) throw new Error('LIBUSB_ERROR_TIMEOUT (the device is still waiting for the end of the message)');
    const a = this.answer;
    this.answer = undefined;
    return { data: new DataView(a.buffer, a.byteOffset, a.byteLength), status: 'ok' };
  }
}

export class FakeUsb implements UsbLike {
  listeners: ((ev: { device: unknown }) => void)[] = [];
  constructor(readonly devices: UsbDeviceLike[]) {}
  async getDevices() {
    return this.devices;
  }
  addEventListener(_t: 'disconnect', l: (ev: { device: unknown }) => void) {
    this.listeners.push(l);
  }
  removeEventListener(_t: 'disconnect', l: (ev: { device: unknown }) => void) {
    this.listeners = this.listeners.filter((x) => x !== l);
  }
  unplug(device: FakeYubiHsmUsb) {
    device.unplugged = true;
    for (const l of this.listeners) l({ device });
  }
  /** Unplugged and gone from the device list, as the operating system shows it. */
  pull(device: FakeYubiHsmUsb) {
    this.unplug(device);
    const at = this.devices.indexOf(device);
    if (at >= 0) this.devices.splice(at, 1);
  }
  /** Plugged back in: the device reboots (its sessions are gone) and appears as a new USB device. */
  replug(serialNumber: string, device: YubiHsmSimulator): FakeYubiHsmUsb {
    device.powerCycle();
    const fresh = new FakeYubiHsmUsb(serialNumber, device);
    this.devices.push(fresh);
    return fresh;
  }
}
