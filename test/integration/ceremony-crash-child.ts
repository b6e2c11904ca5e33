// The child of the init-token kill tests: runs `keyceremony init-token` in-process and stops (says where on
// stdout, then waits to be killed with SIGKILL) at the moment its third argument names:
//   share:N     after the Nth share file was written and recorded
//   record:N    after the Nth entry (pre-genesis record or chain entry) is on stable storage
//   action:STEP when STEP's action has returned, before its result is recorded (inside the step)
// or never ("none"); the parent may also kill it at a random moment. Each record is announced as
// `recorded STEP:KIND`, so the parent knows every moment there is to stop at.
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';

const [argvJson, scriptsDir, stopAt] = process.argv.slice(2);
if (!argvJson || !scriptsDir || !stopAt) throw new Error('usage: child ARGV_JSON SCRIPTS_DIR share:N|record:N|action:STEP|none');
const [what, where] = stopAt.split(':') as [string, string | undefined];

async function stop(line: string): Promise<void> {
  process.stdout.write(`stopped ${line}\n`);
  setInterval(() => undefined, 1000);
  await new Promise(() => undefined);
}

let issued = 0;
let recorded = 0;
const code = await initTokenCommand(JSON.parse(argvJson) as string[], { stdout: process.stdout, stderr: process.stderr }, {
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
  airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }),
  scriptsDir,
  onShareIssued: async (custodian) => {
    issued += 1;
    process.stdout.write(`issued ${custodian}\n`);
    if (what === 'share' && issued === Number(where)) await stop(`after share ${custodian}`);
  },
  onRecorded: async (ref) => {
    recorded += 1;
    process.stdout.write(`recorded ${ref.step}:${ref.kind}\n`);
    if (what === 'record' && recorded === Number(where)) await stop(`after ${ref.step}:${ref.kind}`);
  },
  onActionDone: async (step) => {
    if (what === 'action' && step === where) await stop(`inside ${step}`);
  },
});
process.stdout.write(`exit ${code}\n`);
process.exitCode = code;
