// The child of the enrol-token kill test: runs `keyceremony enrol-token` in-process and, right after the
// entry recording the user PIN change is on stable storage, says so and waits to be killed with SIGKILL.
import { enrolTokenCommand } from '../../src-main/cli/enrol-token-command.js';

const [argvJson, scriptsDir] = process.argv.slice(2);
if (!argvJson || !scriptsDir) throw new Error('usage: child ARGV_JSON SCRIPTS_DIR');
const code = await enrolTokenCommand(JSON.parse(argvJson) as string[], { stdout: process.stdout, stderr: process.stderr }, {
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
  airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }),
  scriptsDir,
  onRecorded: async (ref) => {
    if (ref.kind !== 'pin-changed') return;
    process.stdout.write('pins changed\n');
    setInterval(() => undefined, 1000);
    await new Promise(() => undefined);
  },
});
process.stdout.write(`exit ${code}\n`);
process.exitCode = code;
