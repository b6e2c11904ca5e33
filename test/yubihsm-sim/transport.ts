// An in-process transport: frames go straight to a simulator, with optional hooks that alter them in
// transit (for integrity tests).
import type { YubiHsmTransport } from '../../hsm/yubihsm/transport.js';
import type { YubiHsmSimulator } from './device.js';

export interface SimulatorTransportOptions {
  /** Called with each request frame; whatever it returns is what the device receives. */
  alterRequest?: (frame: Uint8Array) => Uint8Array;
  /** Called with each response frame; whatever it returns is what the host receives. */
  alterResponse?: (frame: Uint8Array) => Uint8Array;
}

export class SimulatorTransport implements YubiHsmTransport {
  readonly description: string;
  closed = false;

  constructor(
    readonly device: YubiHsmSimulator,
    public options: SimulatorTransportOptions = {},
  ) {
    this.description = `YubiHSM simulator serial ${device.serial}`;
  }

  async send(frame: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new Error('simulator transport is closed');
    await new Promise((resolve) => setImmediate(resolve));
    const request = this.options.alterRequest ? this.options.alterRequest(frame.slice()) : frame;
    const response = this.device.process(request);
    return this.options.alterResponse ? this.options.alterResponse(response.slice()) : response;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
