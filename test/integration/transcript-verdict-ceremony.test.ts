// The verifier's verdict on real ceremonies run through the engine on SoftHSM: init-token from the shipped
// script, offline, is production OK (exit 0); the same run as a rehearsal on an online laptop is exit 3; a
// modified init-token script (air-gap and sign-off steps dropped, head quorum off, 0 witnesses) runs to its end
// but never verifies as production OK: its script hash is unknown and no air-gap check is recorded. (Dropping
// the prove step as well gets no further than the init step: the engine never touches the token before the
// shares are proved, whatever the script says.)
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { AirGapStatus } from '../../src-main/airgap/airgap.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { runCli } from '../../src-main/cli/main.js';
import { weakenedInitToken } from '../helpers/ceremony-records.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = (): AirGapStatus => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const online = (): AirGapStatus => ({ offline: false, interfaces: [{ name: 'eth0', addresses: ['10.0.0.2'] }], checkedAt: new Date().toISOString() });

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-verdict-'));
});
afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function blankSlot(): Promise<string> {
  const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
  if (!slot) throw new Error('no blank SoftHSM slot');
  return slot.slotId;
}

/** Run init-token (whatever steps the script has) and return the bundle folder it exported. */
async function run(name: string, scriptsDir: string, options: { airGap: () => AirGapStatus; rehearsal?: boolean }): Promise<string> {
  const dir = join(work, name);
  await mkdir(join(dir, 'usb'), { recursive: true });
  const service = new CeremonyService({ layer, dataDir: join(dir, 'data'), scriptsDir, airGap: options.airGap, appVersion: '0.1.0-test', scrypt: SCRYPT });
  try {
    let view = await service.start({ script: 'init-token', parameters: { tokenLabel: name, custodians: ['alice', 'bob'], threshold: 2 }, ...(options.rehearsal ? { rehearsal: true } : {}) });
    const id = view.ceremonyId;
    const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22' };
    const slotId = await blankSlot();
    for (let guard = 0; view.status === 'running' && guard < 40; guard += 1) {
      const step = view.currentStepId as string;
      const action = view.steps.find((s) => s.id === step)?.action;
      const input: Record<string, unknown> =
        action === 'record-participants' ? { administrator: 'admin', witnesses: view.steps.some((s) => s.action === 'witness-sign-off') ? ['wendy'] : [] }
        : action === 'select-token' ? { moduleId: SOFTHSM_MODULE, slotId }
        : action === 'init-token' ? { confirm: 'INITIALIZE' }
        : action === 'distribute-shares' ? { custodian: view.pendingCustodians?.[0], passphrase: pass[view.pendingCustodians?.[0] as 'alice'], destinationDir: join(dir, 'usb') }
        : action === 'witness-sign-off' ? { witnesses: [{ name: 'wendy' }] }
        : action === 'export-bundle' ? { destinationDir: dir }
        : view.quorum ? { shareFile: join(dir, 'usb', `${view.quorum.remaining > 1 ? 'alice' : 'bob'}.share`), passphrase: view.quorum.remaining > 1 ? pass.alice : pass.bob }
        : {};
      view = (await service.perform(id, step, input)).view;
    }
    expect(view.status).toBe('completed');
    const bundle = view.outputs.find((o) => o.kind === 'bundle')?.path;
    expect(bundle).toBeDefined();
    return bundle as string;
  } finally {
    await service.close();
  }
}

function capture() {
  let stdout = '';
  return { out: { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true } }, text: () => stdout };
}

describe('verdict on ceremonies run through the engine', () => {
  it('the shipped init-token, offline: production OK, exit 0', async () => {
    const bundle = await run('prod', resolve('ceremonies'), { airGap: offline });
    const c = capture();
    expect(await runCli(['verify', bundle], c.out)).toBe(0);
    const sha = createHash('sha256').update(await readFile(resolve('ceremonies/init-token.yaml'))).digest('hex');
    const version = /\nversion: (\d+)\n/.exec(await readFile(resolve('ceremonies/init-token.yaml'), 'utf8'))?.[1];
    expect(c.text()).toContain(`script init-token v${version} SHA-256 ${sha}: shipped with keyceremony 0.1.0`);
    expect(c.text()).toContain('production; air gap: offline; app version 0.1.0-test');
    expect(c.text()).toMatch(/\nOK: production ceremony init-token-\S+; integrity and policy hold; \d+ entries verified/);
  });

  it('a rehearsal on an online laptop: integrity OK, exit 3, unless --allow-rehearsal', async () => {
    const bundle = await run('rehearsal', resolve('ceremonies'), { airGap: online, rehearsal: true });
    const c = capture();
    expect(await runCli(['verify', bundle], c.out)).toBe(3);
    expect(c.text()).toContain('REHEARSAL; air gap: online');
    expect(c.text()).toMatch(/INTEGRITY OK, BUT NOT A PRODUCTION CEREMONY: .*\n {2}- ceremony init-token-\S+: it is a rehearsal, not a production ceremony \(pass --allow-rehearsal to accept rehearsals\)\n/);
    expect(await runCli(['verify', bundle, '--allow-rehearsal'], capture().out)).toBe(0);
  });

  it('a modified script without air gap, sign-off, head quorum or witnesses runs, but is never production OK', async () => {
    const scripts = join(work, 'modified-scripts');
    await cp(resolve('ceremonies'), scripts, { recursive: true });
    const original = await readFile(join(scripts, 'init-token.yaml'), 'utf8');
    const modified = weakenedInitToken(original, { keepProve: true });
    for (const gone of ['check-airgap', 'witness-sign-off', 'approvals: quorum']) expect(modified).not.toContain(gone);
    await writeFile(join(scripts, 'init-token.yaml'), modified);
    const sha = createHash('sha256').update(modified).digest('hex');

    const bundle = await run('modified', scripts, { airGap: offline });
    const c = capture();
    expect(await runCli(['verify', bundle], c.out)).toBe(3);
    expect(c.text()).toMatch(new RegExp(`script init-token v\\d+ SHA-256 ${sha}: UNKNOWN \\(no release shipped it\\)`));
    expect(c.text()).toContain(`it ran script 'init-token' with SHA-256 ${sha}, which no keyceremony release shipped; if you reviewed that script, pass --allow-script ${sha}`);
    expect(c.text()).toContain('it is recorded as a production ceremony, but no air-gap check is recorded');
    // Even a caller who allows that script does not get production OK: no air-gap check was recorded.
    const allowed = capture();
    expect(await runCli(['verify', bundle, '--allow-script', sha], allowed.out)).toBe(3);
    expect(allowed.text()).toContain('not shipped, allowed by --allow-script');
    expect(allowed.text()).not.toContain('\nOK:');
  });
});
