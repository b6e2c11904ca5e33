// enrol-token for tests: the command line of `keyceremony enrol-token` over a work folder (share folder,
// passphrase and PIN files, bundle folder, data directory), and an independent check of what the shares
// open: the share files are opened and combined with the quorum code's primitives, the PINs derived, and
// the token asked with a fresh module instance, not with the ceremony's session.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { ModuleConfig, SlotRef } from '../../hsm/types.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { enrolTokenCommand } from '../../src-main/cli/enrol-token-command.js';

export const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
export const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
export type Custodian = keyof typeof PASS;
export const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

export interface EnrolWork {
  dir: string;
  shares: string;
  out: string;
  data: string;
  secrets: string;
}

export async function enrolWork(prefix: string): Promise<EnrolWork> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const w = { dir, shares: join(dir, 'usb'), out: join(dir, 'out'), data: join(dir, 'data'), secrets: join(dir, 'secrets') };
  for (const d of [w.shares, w.out, w.data, w.secrets]) await mkdir(d);
  for (const [name, p] of Object.entries(PASS)) await writeFile(join(w.secrets, name), `${p}\n`);
  return w;
}

export function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

/** The enrol-token command line for a work folder: PIN files written from the values given. */
export async function enrolArgs(w: EnrolWork, o: { module: string; initParameters?: string; slot: string; userPin?: string; soPin?: string; extra?: string[] }): Promise<string[]> {
  const args = ['--module', o.module, ...(o.initParameters ? ['--init-parameters', o.initParameters] : []), '--slot', o.slot];
  if (o.userPin !== undefined) {
    await writeFile(join(w.secrets, 'user-pin'), `${o.userPin}\n`);
    args.push('--current-user-pin-file', join(w.secrets, 'user-pin'));
  }
  if (o.soPin !== undefined) {
    await writeFile(join(w.secrets, 'so-pin'), `${o.soPin}\n`);
    args.push('--current-so-pin-file', join(w.secrets, 'so-pin'));
  }
  args.push('--custodians', 'alice,bob,carol', '--threshold', '2', '--shares-out', w.shares, '--out', w.out, '--witness', 'wendy', '--data-dir', w.data, '--json');
  args.push(...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(w.secrets, c)}`]));
  return [...args, ...(o.extra ?? [])];
}

/**
 * Bundle test/integration/enrol-token-crash-child.ts (the command in a child process that stops where it is
 * told) into `cacheName` under node_modules/.cache; each test file its own folder, as files run in parallel.
 */
export async function buildEnrolChild(cacheName: string): Promise<string> {
  const outDir = resolve('node_modules/.cache', cacheName);
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve('test/integration/enrol-token-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
  });
  return join(outDir, 'child.mjs');
}

export async function runEnrol(args: string[]) {
  const { o, out } = io();
  const code = await enrolTokenCommand(args, out, { scrypt: SCRYPT, airGap: offline });
  return { code, ...o, json: code === 0 || o.stdout.startsWith('{') ? (JSON.parse(o.stdout || '{}') as { ceremonyId: string; status: string; bundle: { path: string } | null; shares: { path: string }[] }) : undefined };
}

/** The share flags for kms-import / kms-rewrap. */
export const shareFlags = (w: EnrolWork, ...who: Custodian[]) => who.flatMap((c) => ['--share', `${join(w.shares, `${c}.share`)}:${join(w.secrets, c)}`]);

/** Rebuild S from two share files, independently of the ceremony, and derive the token PINs from it. */
export async function pinsFromShares(w: EnrolWork, enrolmentId: string, who: Custodian[], limits: { minPinLength?: number; maxPinLength?: number } = {}) {
  const shares: Uint8Array[] = [];
  for (const c of who) shares.push((await openShareFile(await readFile(join(w.shares, `${c}.share`)), PASS[c], { ceremonyId: enrolmentId })).share);
  const secret = await combineShares(shares, who.length);
  try {
    return derivePins(secret, enrolmentId, limits);
  } finally {
    wipe(secret, ...shares);
  }
}

/** Does `pin` log in as `who` on the token? Asked through a fresh module instance. */
export async function opensWith(module: ModuleConfig, slot: SlotRef, who: 'user' | 'so', pin: string): Promise<boolean | string> {
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([module]);
    const { session } = await layer.openSession(slot, { readWrite: true });
    try {
      await layer.login(session, who, pin);
      await layer.logout(session);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (code === 'CKR_PIN_INCORRECT') return false;
      return code;
    }
  } finally {
    await layer.close();
  }
}

const HMAC_BYTES: Record<string, number> = { HMAC_224: 28, HMAC_256: 32, HMAC_384: 48, HMAC_512: 64 };
const CURVES: Record<string, string> = { ECC_NIST_P256: 'secp256r1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1' };

/**
 * Check unwrapped KMS material as the strictest receiver would: symmetric and HMAC material of exactly the
 * spec's length; private keys as exact DER (the outer SEQUENCE's length covers every byte) that python
 * `cryptography`'s load_der_private_key accepts, of the spec's curve or modulus size. Returns the key's
 * SubjectPublicKeyInfo (DER, from python) for asymmetric specs.
 */
export function strictMaterialCheck(keySpec: string, material: Buffer): Uint8Array | undefined {
  if (keySpec === 'SYMMETRIC_DEFAULT' || keySpec in HMAC_BYTES) {
    const want = keySpec === 'SYMMETRIC_DEFAULT' ? 32 : (HMAC_BYTES[keySpec] as number);
    if (material.length !== want) throw new Error(`${keySpec}: material is ${material.length} bytes, expected exactly ${want}`);
    return undefined;
  }
  // The outer DER SEQUENCE must span exactly the bytes received.
  if (material[0] !== 0x30) throw new Error(`${keySpec}: material does not start with a DER SEQUENCE`);
  const first = material[1] as number;
  const [len, header] = first < 0x80 ? [first, 2] : [material.subarray(2, 2 + (first & 0x7f)).reduce((a, b) => a * 256 + b, 0), 2 + (first & 0x7f)];
  if (header + len !== material.length) throw new Error(`${keySpec}: DER says ${header + len} bytes but ${material.length} were unwrapped`);
  const out = execFileSync(
    'python3',
    [
      '-c',
      [
        'import sys',
        'from cryptography.hazmat.primitives.serialization import load_der_private_key, Encoding, PublicFormat',
        'from cryptography.hazmat.primitives.asymmetric import rsa, ec',
        'k = load_der_private_key(bytes.fromhex(sys.stdin.read().strip()), None)',
        "kind = ('rsa:%d' % k.key_size) if isinstance(k, rsa.RSAPrivateKey) else ('ec:' + k.curve.name)",
        "print(kind, k.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex())",
      ].join('\n'),
    ],
    { input: material.toString('hex'), encoding: 'utf8' },
  ).trim();
  const [kind, spkiHex] = out.split(' ');
  const want = keySpec.startsWith('RSA_') ? `rsa:${keySpec.slice(4)}` : `ec:${CURVES[keySpec]}`;
  if (kind !== want) throw new Error(`${keySpec}: python reads a ${kind} key, expected ${want}`);
  return new Uint8Array(Buffer.from(spkiHex as string, 'hex'));
}
