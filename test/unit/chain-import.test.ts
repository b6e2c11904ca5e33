import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { importIntoChain } from '../../src-main/chains/import-into-chain.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '0001', label: 't' };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-chain-import-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function otherLaptop() {
  const signer = NodeAuditSigner.generate();
  const { store } = await TranscriptStore.open(join(dir, 'other', 'chains', 'init-1'));
  await store.appendGenesis('init-1', 'admin', token, signer.spkiDer());
  await store.append({ ceremonyId: 'init-1', step: 's', kind: 'result', actor: 'admin', data: {} });
  const first = await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'init-1' }, appVersion: 't' });
  await store.append({ ceremonyId: 'kms-1', step: 's', kind: 'result', actor: 'admin', data: {} });
  const second = await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'kms-1' }, appVersion: 't' });
  await store.close();
  return { first: first.path, second: second.path };
}

describe('importIntoChain', () => {
  it("files the bundles under the chain their genesis names, then finds that chain for later bundles", async () => {
    const { first, second } = await otherLaptop();
    const here = join(dir, 'here');
    expect(await importIntoChain(here, [first])).toMatchObject({ chain: 'init-1', imported: 2, alreadyHeld: 0 });
    expect(await importIntoChain(here, [second])).toMatchObject({ chain: 'init-1', imported: 1, alreadyHeld: 0, head: { seq: 2 } });
    expect(readdirSync(join(here, 'chains'))).toEqual(['init-1']);
  });

  it('refuses continuation bundles that continue nothing here', async () => {
    const { second } = await otherLaptop();
    await expect(importIntoChain(join(dir, 'here'), [second])).rejects.toThrow('The bundles start at entry 2, which continues no transcript on this laptop.');
  });

  it('creates no chain folder for a starting bundle that fails verification', async () => {
    const { first } = await otherLaptop();
    const file = join(first, 'transcript.jsonl');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"admin"', '"admiN"'));
    const here = join(dir, 'here');
    await expect(importIntoChain(here, [first])).rejects.toThrow(/^The bundles do not verify: .*seq 0/);
    expect(existsSync(join(here, 'chains', 'init-1'))).toBe(false);
  });
});

describe('keyceremony import', () => {
  it('imports, then says the bundles are already held; refuses bad usage', async () => {
    const { runCli } = await import('../../src-main/cli/main.js');
    const { first } = await otherLaptop();
    const run = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
      return { code, stdout, stderr };
    };
    const here = join(dir, 'here');
    const once = await run(['import', first, '--data-dir', here, '--json']);
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ ok: true, chain: 'init-1', imported: 2, alreadyHeld: 0 });
    const twice = await run(['import', first, '--data-dir', here]);
    expect(twice.stdout).toContain('Imported 0 entries into the transcript of init-1 (2 already held)');
    expect((await run(['import', '--data-dir', here])).code).toBe(2);
    const refused = await run(['import', join(dir, 'nope'), '--data-dir', here]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('keyceremony import: The chosen folders hold no readable transcript entries.');
  });
});
