// A yubihsm-connector entry whose connector is not running yet when the module list loads: the entry is
// kept, the token list says why it shows nothing (and what to do), and once the connector answers the
// next refresh lists the device; no reload of the module list is needed.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { takeInventory } from '../../src-main/tokens/inventory.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { YubiHsmSimulator } from '../yubihsm-sim/device.js';

/** A loopback port nobody listens on (taken and released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

let dir: string;
let server: ConnectorServer | undefined;
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a yubihsm-connector that starts after the app', () => {
  it('is kept, explained while unreachable, and listed once it answers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kc-yubihsm-late-'));
    const port = await freePort();
    const module = `yubihsm:http://127.0.0.1:${port}`;
    const layer = createTokenLayer(dir);
    try {
      expect(await layer.configureModules([{ path: module, source: 'user' }])).toMatchObject([{ id: module, loaded: true }]);
      const before = await takeInventory(layer, probeKmsCapabilities);
      expect(before.slots).toEqual([]);
      expect(before.modules[0]?.error).toMatchObject({ code: 'YUBIHSM_CONNECTOR_UNREACHABLE', remedy: 'Start yubihsm-connector (or the simulator) on this computer and check its port.' });
      expect(before.modules[0]?.error?.message).toContain(`http://127.0.0.1:${port} cannot be reached (ECONNREFUSED)`);

      server = await startConnectorServer({ device: new YubiHsmSimulator({ serial: 2718 }), port });
      const after = await takeInventory(layer, probeKmsCapabilities);
      expect(after.modules[0]?.error).toBeUndefined();
      expect(after.slots).toMatchObject([{ moduleId: module, slotId: '2718', tokenPresent: true, token: { model: 'YubiHSM 2', initialized: false } }]);
    } finally {
      await layer.close();
    }
  });
});
