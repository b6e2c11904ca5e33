import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { assessInterfaces, checkAirGap, AirGapMonitor } from '../../src-main/airgap/airgap.js';

const v4 = (address: string, internal: boolean, bits = 24): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/${bits}` });
const v6 = (address: string, internal: boolean): NetworkInterfaceInfo => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${address}/64`, scopeid: 0 });
const now = new Date('2026-11-29T00:00:00Z');

describe('air-gap assessment', () => {
  it('is offline with loopback only', () => {
    expect(assessInterfaces({ lo: [v4('127.0.0.1', true, 8), v6('::1', true)] }, now)).toEqual({ offline: true, interfaces: [], checkedAt: '2026-11-29T00:00:00.000Z' });
  });

  it('is offline with no interfaces at all', () => {
    expect(assessInterfaces({}, now).offline).toBe(true);
  });

  it('names every non-loopback interface with an address, sorted', () => {
    const status = assessInterfaces({ wlan0: [v4('192.168.1.5', false)], lo: [v4('127.0.0.1', true, 8)], eth0: [v4('10.0.0.2', false, 8)] }, now);
    expect(status.offline).toBe(false);
    expect(status.interfaces).toEqual([
      { name: 'eth0', addresses: ['10.0.0.2/8'] },
      { name: 'wlan0', addresses: ['192.168.1.5/24'] },
    ]);
  });

  it('counts an IPv6 link-local address as a network: it reaches the local wire', () => {
    expect(assessInterfaces({ eth0: [v6('fe80::1', false)] }, now).offline).toBe(false);
  });

  it('never claims offline when the check itself fails', () => {
    const status = checkAirGap(() => {
      throw new Error('no getifaddrs');
    });
    expect(status.offline).toBe(false);
    expect(status.error).toBe('The network check failed: no getifaddrs');
  });

  it('re-checks on its timer', async () => {
    let table: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
    const monitor = new AirGapMonitor(() => table, 10);
    expect(monitor.current().offline).toBe(true);
    monitor.start();
    table = { eth0: [v4('10.1.2.3', false)] };
    await new Promise((r) => setTimeout(r, 60));
    monitor.stop();
    expect(monitor.current().offline).toBe(false);
  });
});
