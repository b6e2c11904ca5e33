// The child of the restore-key crash tests. Mode `crash`: runs restore-key through the engine on the token
// (SoftHSM, or a YubiHSM 2 entry `yubihsm:http://127.0.0.1:PORT` whose simulator lives in the test process)
// and sends itself SIGKILL at the named point (`<step>:<entry kind>` once that entry is on disk, or
// `<step>:performed` when the step's token work returned and its result is not yet written). Mode `resume`:
// a fresh process resumes that ceremony, presents the shares, runs the remaining steps and prints the final
// view as one JSON line.
import { resolve } from 'node:path';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';

interface Args {
  mode: 'crash' | 'resume';
  module: string;
  dataDir: string;
  token: { uri: string } | { moduleId: string; slotId: string };
  backupDir: string;
  shares: { shareFile: string; passphrase: string }[];
  out: string;
  crashAt?: string;
  ceremonyId?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const die = () => process.kill(process.pid, 'SIGKILL');
const layer = createTokenLayer(args.dataDir);
const [loaded] = await layer.configureModules([{ path: args.module, source: 'user' }]);
if (!loaded?.loaded) throw new Error(`module ${args.module}: ${loaded?.error?.message ?? 'not loaded'}`);
const service = new CeremonyService({
  layer,
  dataDir: args.dataDir,
  scriptsDir: resolve('ceremonies'),
  airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }),
  appVersion: '0.1.0-test',
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
  onRecorded: (ref) => {
    if (`${ref.step}:${ref.kind}` === args.crashAt) die();
  },
  onActionDone: (step) => {
    if (`${step}:performed` === args.crashAt) die();
  },
});

const inputs: Record<string, () => Record<string, unknown>[]> = {
  participants: () => [{ administrator: 'admin', witnesses: ['wendy'] }],
  airgap: () => [{}],
  token: () => [args.token],
  login: () => args.shares,
  check: () => [{ backupDir: args.backupDir }],
  unwrap: () => args.shares,
  'sign-off': () => [{ witnesses: [{ name: 'wendy' }] }],
  head: () => [{}],
  export: () => [{ destinationDir: args.out }],
  logout: () => [{}],
};

let view: CeremonyView = args.mode === 'crash' ? await service.start({ script: 'restore-key', parameters: {} }) : await service.resume(args.ceremonyId as string);
process.stdout.write(`ceremony ${view.ceremonyId} at ${view.currentStepId}\n`);
while (view.status === 'running' && view.currentStepId) {
  const s = view.currentStepId;
  for (const input of (inputs[s] as () => Record<string, unknown>[])()) view = (await service.perform(view.ceremonyId, s, input)).view;
  if (view.currentStepId === s) throw new Error(`step ${s} did not finish: ${JSON.stringify(view.lastError)}`);
}
process.stdout.write(`${JSON.stringify(view)}\n`);
await service.close();
await layer.close();
