// Entry of the token host process, forked by HostTokenLayer (host-token-layer.ts) as
// `hsm-host.js <dataDir>`. It owns the real token layer, so a PKCS#11 module that crashes (native vendor
// code) takes down this process only; the app sees its pending calls fail and forks a fresh host.
// It lives in src-main, not hsm/, because it builds the app's layer (createTokenLayer, whose YubiHSM label
// memory is in the data directory) and hsm/ never imports the app (test/unit/architecture.test.ts).
import { createTokenLayer } from '../tokens/token-layer.js';
import { answer } from './serve.js';

const dataDir = process.argv[2];
if (!process.send || !dataDir) {
  console.error('hsm-host: must be forked with an IPC channel and the data directory as its argument');
  process.exit(2);
}
const send = process.send.bind(process);
const layer = createTokenLayer(dataDir);

process.on('message', (message: unknown) => {
  void answer(layer, message).then((reply) => {
    // The parent may be gone by the time a slow call ends; nothing is left to tell.
    if (reply && process.connected) send(reply, (error: Error | null) => error && console.error('hsm-host: reply not sent:', error.message));
  });
});

// The parent closed the channel (HostTokenLayer.close, or the app ended): finalize the modules so the
// tokens are left logged out, then leave even if a driver keeps a timer or a USB handle open.
process.on('disconnect', () => {
  void layer
    .close()
    .catch((error: unknown) => console.error('hsm-host: closing the token layer failed:', error))
    .finally(() => process.exit(0));
});
