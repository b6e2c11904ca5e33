// Is this laptop offline? libuv (os.networkInterfaces) lists only interfaces that are up and running, so
// any non-loopback entry with an address means a network is attached. Link-local addresses count too:
// they still reach other machines on the same wire.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface AirGapInterface {
  name: string;
  addresses: string[];
}

export interface AirGapStatus {
  offline: boolean;
  interfaces: AirGapInterface[];
  checkedAt: string;
  error?: string;
}

export type InterfaceSource = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

export function assessInterfaces(table: NodeJS.Dict<NetworkInterfaceInfo[]>, now: Date = new Date()): AirGapStatus {
  const interfaces: AirGapInterface[] = [];
  for (const [name, infos] of Object.entries(table)) {
    const addresses = (infos ?? []).filter((info) => !info.internal && info.address !== '').map((info) => `${info.address}/${info.cidr?.split('/')[1] ?? '?'}`);
    if (addresses.length > 0) interfaces.push({ name, addresses });
  }
  interfaces.sort((a, b) => a.name.localeCompare(b.name));
  return { offline: interfaces.length === 0, interfaces, checkedAt: now.toISOString() };
}

export function checkAirGap(source: InterfaceSource = networkInterfaces): AirGapStatus {
  try {
    return assessInterfaces(source());
  } catch (error) {
    // If we cannot tell, we must not claim to be offline.
    return { offline: false, interfaces: [], checkedAt: new Date().toISOString(), error: `The network check failed: ${(error as Error).message}` };
  }
}

/** Re-checks every few seconds so the banner appears within moments of a cable or Wi-Fi coming up. */
export class AirGapMonitor {
  private status: AirGapStatus;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: InterfaceSource = networkInterfaces,
    private readonly intervalMs = 3000,
  ) {
    this.status = checkAirGap(this.source);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.status = checkAirGap(this.source);
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  current(): AirGapStatus {
    return this.status;
  }
}
