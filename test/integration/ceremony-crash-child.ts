// The child of the init-token crash test: runs `keyceremony init-token` in-process and, after the Nth share
// file is written and recorded, says so and waits to be killed with SIGKILL.
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';

const [argvJson, scriptsDir, stopAfterText] = process.argv.slice(2);
if (!argvJson || !scriptsDir || !stopAfterText) throw new Error('usage: child ARGV_JSON SCRIPTS_DIR STOP_AFTER');
const stopAfter = Number(stopAfterText);
let issued = 0;
const code = await initTokenCommand(JSON.parse(argvJson) as string[], { stdout: process.stdout, stderr: process.stderr }, {
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
  airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }),
  scriptsDir,
  onShareIssued: async (custodian) => {
    issued += 1;
    process.stdout.write(`issued ${custodian}\n`);
    if (issued >= stopAfter) {
      setInterval(() => undefined, 1000);
      await new Promise(() => undefined);
    }
  },
});
process.stdout.write(`exit ${code}\n`);
process.exitCode = code;
