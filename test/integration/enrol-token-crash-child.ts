// The child of the enrol-token kill tests: runs `keyceremony enrol-token` in-process and stops (says where on
// stdout, then waits to be killed with SIGKILL) at the moment its third argument names:
//   record:N    after the Nth entry (pre-genesis record or chain entry) is on stable storage
//   kind:KIND   after the first entry of that kind is on stable storage
//   call:N      after the Nth token call returned, before anything else happens (inside a step)
// or never ("none"). Each record is announced as `recorded STEP:KIND` and each token call as `call NAME`,
// so the parent knows every moment there is to stop at. The token calls are seen by wrapping the PKCS#11
// driver's methods in this process only.
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { enrolTokenCommand } from '../../src-main/cli/enrol-token-command.js';

const [argvJson, scriptsDir, stopAt = 'kind:pin-changed'] = process.argv.slice(2);
if (!argvJson || !scriptsDir) throw new Error('usage: child ARGV_JSON SCRIPTS_DIR record:N|kind:KIND|call:N|none');
const [what, where] = stopAt.split(':') as [string, string | undefined];

async function stop(line: string): Promise<void> {
  process.stdout.write(`stopped ${line}\n`);
  setInterval(() => undefined, 1000);
  await new Promise(() => undefined);
}

// The TokenLayer calls that reach the token (hsm/token.ts), not the driver's own helpers.
const TOKEN_CALLS = ['listSlots', 'listMechanisms', 'initToken', 'openSession', 'closeSession', 'login', 'logout', 'initUserPin', 'setPin', 'generateSecretKey', 'generateKeyPair', 'createPublicKeyFromSpki', 'getAttributes', 'findOne', 'findAll', 'destroyObject', 'wrapKey', 'sign', 'digest', 'encrypt', 'random', 'createDataObject', 'readDataObject', 'replaceDataObject'];
let calls = 0;
const proto = Pkcs11TokenLayer.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
for (const name of TOKEN_CALLS) {
  const real = proto[name];
  if (typeof real !== 'function') throw new Error(`the driver has no ${name}`);
  proto[name] = async function (this: unknown, ...args: unknown[]) {
    const result = await real.apply(this, args);
    calls += 1;
    process.stdout.write(`call ${name}\n`);
    if (what === 'call' && calls === Number(where)) await stop(`after token call ${calls} (${name})`);
    return result;
  };
}

let recorded = 0;
const code = await enrolTokenCommand(JSON.parse(argvJson) as string[], { stdout: process.stdout, stderr: process.stderr }, {
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
  airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }),
  scriptsDir,
  onRecorded: async (ref) => {
    recorded += 1;
    process.stdout.write(`recorded ${ref.step}:${ref.kind}\n`);
    if ((what === 'record' && recorded === Number(where)) || (what === 'kind' && ref.kind === where)) await stop(`after ${ref.step}:${ref.kind}`);
  },
});
process.stdout.write(`exit ${code}\n`);
process.exitCode = code;
