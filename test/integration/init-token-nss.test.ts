// init-token on the NSS softoken, which cannot take a label (C_InitToken keeps "NSS Certificate DB"): its
// database reports itself initialized, so init-token refuses it at the token step, before any share is handed
// out or the token touched, and names the ceremony that works there (enrol-token). The database password still
// opens it afterwards.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';
import { io, offline, opensWith, PASS, SCRYPT } from '../helpers/enrol-token.js';

const PASSWORD = 'nss-db-password-for-init';
let nss: NssDb;
let work: string;
let slotId: string;

beforeAll(async () => {
  nss = createNssDb({ password: PASSWORD });
  work = await mkdtemp(join(tmpdir(), 'kc-init-nss-'));
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  slotId = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL)?.slotId as string;
  await layer.close();
});

afterAll(async () => {
  nss?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('init-token on the NSS softoken', () => {
  it('is refused at the token step, pointing to enrol-token; no share written, the database password still opens it', async () => {
    const shares = join(work, 'usb');
    const out = join(work, 'out');
    for (const d of [shares, out]) await mkdir(d, { recursive: true });
    const args = ['--module', NSS_SOFTOKEN_MODULE, '--init-parameters', nss.module.initParameters as string, '--slot', slotId, '--token-label', 'nss-root', '--custodians', 'alice,bob,carol', '--threshold', '2', '--shares-out', shares, '--out', out, '--witness', 'wendy', '--data-dir', join(work, 'data'), '--rehearsal'];
    for (const [name, pass] of Object.entries(PASS)) {
      await writeFile(join(work, name), `${pass}\n`);
      args.push('--passphrase-file', `${name}=${join(work, name)}`);
    }
    const { o, out: sink } = io();
    const code = await initTokenCommand(args, sink, { scrypt: SCRYPT, airGap: offline });
    expect(code).toBe(1);
    expect(o.stderr).toContain("token 'NSS Certificate DB' (serial 0000000000000000) in slot");
    expect(o.stderr).toContain('already initialized; init-token needs a blank token');
    expect(o.stderr).toContain('keyceremony enrol-token');
    expect(o.stderr).toContain('the token was not changed');
    expect(await readdir(shares)).toEqual([]);
    expect(await opensWith(nss.module, { moduleId: NSS_SOFTOKEN_MODULE, slotId }, 'user', PASSWORD)).toBe(true);
  });
});
