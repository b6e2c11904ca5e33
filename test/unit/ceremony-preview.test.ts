// The start-a-ceremony preview comes from the shipped scripts themselves (what to bring, derived from the
// actions; the roles), and main refuses to start a real ceremony on a laptop that is online.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { loadScriptFile } from '../../src-main/ceremony/script/index.js';
import { assertMayStart, bringList } from '../../src-main/ceremony/script/preview.js';

const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const online = () => ({ offline: false, interfaces: [{ name: 'eth0', addresses: ['192.0.2.7'] }], checkedAt: new Date().toISOString() });

describe('what to bring', () => {
  it('init-token: the blank token, a USB stick per custodian, the bundle media, and the witnesses', async () => {
    const { script } = await loadScriptFile(resolve('ceremonies/init-token.yaml'));
    const bring = bringList(script);
    expect(bring.map((b) => b.item)).toEqual([
      'At least 1 witness',
      'The blank token to initialize',
      'One empty USB stick per custodian, for their share file (and paper for their share sheet)',
      'The custodians (the threshold) with their new share files and passphrases, to approve the seal',
      'Removable media for the transcript bundle',
    ]);
    expect(bring.find((b) => b.item.startsWith('One empty USB'))?.steps).toEqual(['shares']);
  });

  it('kms-import: the enrolled token, the parameters stick, the custodians with their shares, a stick for the export', async () => {
    const { script } = await loadScriptFile(resolve('ceremonies/kms-import.yaml'));
    expect(bringList(script).map((b) => [b.item, b.steps])).toEqual([
      ['At least 1 witness', ['participants']],
      ['The token the custodians were enrolled on', ['token']],
      ['The USB stick with the cloud\'s import parameters (AWS: get-parameters-for-import JSON or the console download; Google Cloud KMS: the import job\'s JSON; Azure: the key exchange key\'s JSON; Vault: transit\'s wrapping key)', ['parameters']],
      ['Enough custodians (the enrolled threshold), each with their share file on their USB stick and its passphrase, or their share sheet', ['login']],
      ['An empty USB stick for the wrapped key material (the import bundle)', ['export-key']],
      ['Removable media for the transcript bundle', ['export']],
    ]);
  });

  it('rotate-custodians: the current custodians open the token, the new ones bring empty sticks and seal with what they receive', async () => {
    const { script } = await loadScriptFile(resolve('ceremonies/rotate-custodians.yaml'));
    expect(bringList(script).map((b) => [b.item, b.steps])).toEqual([
      ['At least 1 witness', ['participants']],
      ['The token the custodians were enrolled on', ['token']],
      ['Enough current custodians (the enrolled threshold), each with their share file on their USB stick and its passphrase, or their share sheet', ['login']],
      ['One empty USB stick per new custodian, for their share file (and paper for their share sheet)', ['shares']],
      ['The new custodians (the new threshold) with the share files they receive in this ceremony and their passphrases, to approve the seal', ['head']],
      ['Removable media for the transcript bundle', ['export']],
    ]);
  });
});

describe('starting while online', () => {
  it('is refused for a real ceremony, naming the interface and the remedy', () => {
    expect(() => assertMayStart({ kind: 'init-token', rehearsal: false }, false, online())).toThrow(/the laptop is not offline \(eth0 \(192\.0\.2\.7\)\): a init-token ceremony cannot start/);
    expect(() => assertMayStart({ kind: 'init-token', rehearsal: false }, undefined, { offline: false, interfaces: [], error: 'os.networkInterfaces failed' })).toThrow(/os\.networkInterfaces failed/);
  });

  it('is allowed for a rehearsal (asked for, or a rehearsal script), and offline', () => {
    expect(() => assertMayStart({ kind: 'init-token', rehearsal: false }, true, online())).not.toThrow();
    expect(() => assertMayStart({ kind: 'init-token', rehearsal: true }, false, online())).not.toThrow();
    expect(() => assertMayStart({ kind: 'init-token', rehearsal: false }, false, offline())).not.toThrow();
  });

  describe('through the ceremony service', () => {
    let dir: string;
    let layer: Pkcs11TokenLayer;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kc-preview-'));
      layer = new Pkcs11TokenLayer();
    });
    afterEach(async () => {
      await layer.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses before anything is recorded; a rehearsal starts and its first entry says so', async () => {
      const service = new CeremonyService({ layer, dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: online, appVersion: 'test' });
      const parameters = { tokenLabel: 'T1', custodians: ['alice', 'bob'], threshold: 2 };
      await expect(service.start({ script: 'init-token', parameters })).rejects.toMatchObject({ code: 'airgap-online' });
      await expect(readdir(join(dir, 'ceremonies'))).rejects.toMatchObject({ code: 'ENOENT' });
      const view = await service.start({ script: 'init-token', parameters, rehearsal: true });
      expect(view.script.rehearsal).toBe(true);
      expect(view.summary?.rehearsal).toBe(true);
      await service.close();
    });

    it('lists each script with its roles and what to bring', async () => {
      const service = new CeremonyService({ layer, dataDir: dir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'test' });
      const kms = (await service.listScripts()).find((s) => s.name === 'kms-import')!;
      expect(kms.roles.custodians.source).toBe('enrolment');
      expect(kms.roles.witnesses.min).toBe(1);
      expect(kms.bring.length).toBeGreaterThan(3);
    });
  });
});
