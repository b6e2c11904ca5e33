// The YubiHSM 2 over USB through node-usb's WebUSB API: vendor 0x1050, product 0x0030, configuration 1,
// interface 0, bulk OUT endpoint 1 and IN endpoint 1 (0x81). A write whose length is a multiple of the
// 64-byte packet size is followed by a zero-length packet so the device knows the message ended.
import { TokenError } from '../errors.js';
import { MAX_MESSAGE_2_4, USB_PRODUCT_ID, USB_VENDOR_ID } from './constants.js';
import { YubiHsmErrorCodes, unplugged } from './errors.js';
import type { YubiHsmTransport } from './transport.js';

/** The part of a WebUSB USBDevice this transport uses (so a fake can stand in for tests). */
export interface UsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber?: string | undefined;
  readonly opened: boolean;
  readonly configuration?: { configurationValue: number } | null | undefined;
  open(): Promise<void>;
  close(): Promise<void>;
  selectConfiguration(value: number): Promise<void>;
  claimInterface(n: number): Promise<void>;
  releaseInterface(n: number): Promise<void>;
  transferOut(endpoint: number, data: Uint8Array): Promise<{ bytesWritten: number; status: string }>;
  transferIn(endpoint: number, length: number): Promise<{ data?: DataView | undefined; status: string }>;
}

/** The part of the WebUSB `USB` object used: device list and disconnect events. */
export interface UsbLike {
  getDevices(): Promise<UsbDeviceLike[]>;
  addEventListener(type: 'disconnect', listener: (ev: { device: unknown }) => void): void;
  removeEventListener(type: 'disconnect', listener: (ev: { device: unknown }) => void): void;
}

const PACKET = 64;
const ENDPOINT = 1;

export class WebUsbTransport implements YubiHsmTransport {
  private gone = false;
  readonly description: string;
  private readonly onDisconnect = (ev: { device: unknown }) => {
    if (ev.device === this.device) this.gone = true;
  };

  private constructor(
    private readonly usb: UsbLike,
    readonly device: UsbDeviceLike,
  ) {
    this.description = `YubiHSM on USB, serial ${device.serialNumber ?? 'unknown'}`;
    usb.addEventListener('disconnect', this.onDisconnect);
  }

  /** Serial numbers of the YubiHSMs plugged in. */
  static async list(usb: UsbLike): Promise<string[]> {
    return (await usb.getDevices()).filter(isYubiHsm).map((d) => d.serialNumber ?? '');
  }

  /** Open the YubiHSM with this serial number (or the only one plugged in). */
  static async open(usb: UsbLike, serial?: string): Promise<WebUsbTransport> {
    const all = (await usb.getDevices()).filter(isYubiHsm);
    const candidates = serial === undefined ? all : all.filter((d) => d.serialNumber === serial || Number(d.serialNumber) === Number(serial));
    if (candidates.length === 0)
      throw new TokenError(
        YubiHsmErrorCodes.NOT_FOUND,
        serial === undefined ? 'No YubiHSM 2 is plugged in.' : `No YubiHSM 2 with serial ${serial} is plugged in (found: ${all.map((d) => d.serialNumber).join(', ') || 'none'}).`,
        'Plug in the YubiHSM and check that no other program (yubihsm-connector) holds it.',
      );
    if (candidates.length > 1)
      throw new TokenError(YubiHsmErrorCodes.NOT_FOUND, `${candidates.length} YubiHSMs are plugged in.`, 'Say which one by its serial number, or unplug the others.');
    const device = candidates[0] as UsbDeviceLike;
    try {
      if (!device.opened) await device.open();
      if (device.configuration?.configurationValue !== 1) await device.selectConfiguration(1);
      await device.claimInterface(0);
    } catch (e) {
      throw new TokenError(
        YubiHsmErrorCodes.USB_FAILED,
        `The YubiHSM (serial ${device.serialNumber ?? 'unknown'}) could not be opened: ${(e as Error).message}.`,
        'Close yubihsm-connector or any other program using it; on Linux check the udev rule for 1050:0030.',
      );
    }
    return new WebUsbTransport(usb, device);
  }

  /** node-usb's WebUSB, loaded only when USB is actually used. */
  static async nodeUsb(): Promise<UsbLike> {
    const { WebUSB } = await import('usb');
    return new WebUSB({ allowAllDevices: true }) as unknown as UsbLike;
  }

  async send(frame: Uint8Array): Promise<Uint8Array> {
    if (this.gone) throw unplugged();
    try {
      const out = await this.device.transferOut(ENDPOINT, frame);
      if (out.status !== 'ok' || out.bytesWritten !== frame.length) throw new Error(`wrote ${out.bytesWritten} of ${frame.length} bytes (${out.status})`);
      if (frame.length % PACKET === 0) await this.device.transferOut(ENDPOINT, new Uint8Array(0));
      const got = await this.device.transferIn(ENDPOINT, MAX_MESSAGE_2_4);
      if (got.status !== 'ok' || !got.data) throw new Error(`read failed (${got.status})`);
      return new Uint8Array(got.data.buffer.slice(got.data.byteOffset, got.data.byteOffset + got.data.byteLength));
    } catch (e) {
      if (e instanceof TokenError) throw e;
      if (this.gone || /NO_DEVICE|disconnected|not found|LIBUSB_ERROR_IO/i.test((e as Error).message)) {
        this.gone = true;
        throw unplugged();
      }
      throw new TokenError(YubiHsmErrorCodes.USB_FAILED, `USB transfer to the YubiHSM failed: ${(e as Error).message}.`, 'Re-plug the device and open a new session.');
    }
  }

  async close(): Promise<void> {
    this.usb.removeEventListener('disconnect', this.onDisconnect);
    if (this.gone) return;
    await this.device.releaseInterface(0).catch(() => undefined);
    await this.device.close().catch(() => undefined);
  }
}

function isYubiHsm(d: UsbDeviceLike): boolean {
  return d.vendorId === USB_VENDOR_ID && d.productId === USB_PRODUCT_ID;
}
