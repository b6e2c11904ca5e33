// The token layer the app, the CLI and the e2e harness construct: PKCS#11 modules and YubiHSM 2 devices
// (yubihsm:usb, yubihsm:http://127.0.0.1:PORT) side by side behind one TokenLayer.
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { YubiHsmTokenLayer, type YubiHsmTokenLayerOptions } from '../../hsm/yubihsm/token-layer.js';
import { FileLabelMemory } from './yubihsm-labels.js';

export function createTokenLayer(dataDir: string, yubihsm: Omit<YubiHsmTokenLayerOptions, 'labels'> = {}): RoutingTokenLayer {
  return new RoutingTokenLayer(new Pkcs11TokenLayer(), new YubiHsmTokenLayer({ ...yubihsm, labels: new FileLabelMemory(dataDir) }));
}
