// `npm run yubihsm-sim -- --port N [--serial S]`: a simulated YubiHSM 2 (firmware 2.4) behind the
// yubihsm-connector HTTP protocol on 127.0.0.1:N. State lives in memory and is gone when it stops.
import { YubiHsmSimulator } from './device.js';
import { startConnectorServer } from './http-server.js';

function usage(message?: string): never {
  if (message) process.stderr.write(`yubihsm-sim: ${message}\n`);
  process.stderr.write('usage: npm run yubihsm-sim -- [--port N (default 12345, 0 = any free port)] [--serial S]\n');
  process.exit(2);
}

function parseArgs(argv: string[]): { port: number; serial: number } {
  let port = 12345;
  let serial = 1_234_567;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === '--port') port = Number(value());
    else if (arg === '--serial') serial = Number(value());
    else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be an integer 0..65535');
  if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) usage('--serial must be an integer 0..4294967295');
  return { port, serial };
}

const { port, serial } = parseArgs(process.argv.slice(2));
const server = await startConnectorServer({ device: new YubiHsmSimulator({ serial }), port });
process.stdout.write(`YubiHSM 2 simulator (firmware 2.4.0, serial ${serial}) listening on ${server.url}\n`);
process.stdout.write('factory authentication key 1, password "password"; Ctrl-C stops it (state is not kept)\n');
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
