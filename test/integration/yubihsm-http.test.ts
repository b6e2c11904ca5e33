// The YubiHSM client over the yubihsm-connector HTTP protocol against the simulator: in-process server,
// and the `npm run yubihsm-sim` script as a separate process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt, verify } from 'node:crypto';
import { Algorithm, ObjectType, capabilities } from '../../hsm/yubihsm/constants.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import { HttpConnectorTransport } from '../../hsm/yubihsm/transport-http.js';
import type { TokenError } from '../../hsm/errors.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';

describe('over HTTP (in-process connector server)', () => {
  let server: ConnectorServer;
  beforeAll(async () => {
    server = await startConnectorServer();
  });
  afterAll(() => server.close());

  it('status, session, ECDSA audit key, RSA-wrapped AES-256 for a KMS, audit log', async () => {
    const transport = new HttpConnectorTransport(server.url);
    expect(await transport.status()).toMatchObject({ status: 'OK', address: '127.0.0.1', port: server.port });
    const hsm = await YubiHsm.connect(transport);
    expect(hsm.info?.serial).toBe(server.device.serial);
    const s = await hsm.openSession(1, 'password');

    const audit = await cmd.generateAsymmetricKey(s, { id: 0, label: 'audit', domains: 1, capabilities: capabilities('SIGN_ECDSA'), algorithm: Algorithm.EC_P256 });
    const pub = await cmd.getPublicKey(s, audit);
    const sig = await cmd.signEcdsa(s, audit, createHash('sha256').update('head').digest());
    expect(verify('sha256', Buffer.from('head'), pub.key, sig)).toBe(true);

    const kms = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const wrapId = await cmd.putPublicWrapKey(s, { id: 0, label: 'kms', domains: 1, capabilities: capabilities('EXPORT_WRAPPED'), delegatedCapabilities: capabilities('EXPORTABLE_UNDER_WRAP', 'ENCRYPT_CBC', 'DECRYPT_CBC'), publicKey: kms.publicKey });
    const key = await cmd.generateSymmetricKey(s, { id: 0, label: 'cmk', domains: 1, capabilities: capabilities('EXPORTABLE_UNDER_WRAP', 'ENCRYPT_CBC', 'DECRYPT_CBC'), algorithm: Algorithm.AES256 });
    const wrapped = await cmd.wrapKeyRsa(s, { publicWrapKeyId: wrapId, objectType: ObjectType.SYMMETRIC_KEY, objectId: key, hash: 'SHA-256' });
    const aesKey = privateDecrypt({ key: kms.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped.subarray(0, 384));
    const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
    const material = Buffer.concat([d.update(wrapped.subarray(384)), d.final()]);
    expect(material).toEqual(Buffer.from(server.device.inspectObject(key, ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array));

    const log = await cmd.getLogEntries(s);
    expect(log.entries.length).toBeGreaterThanOrEqual(2);
    await hsm.close();
  });

  it('a wrong password is refused over HTTP too', async () => {
    const hsm = await YubiHsm.connect(new HttpConnectorTransport(server.url));
    const e = (await hsm.openSession(1, 'guess').catch((err: unknown) => err)) as TokenError;
    expect(e.code).toBe('YUBIHSM_WRONG_PASSWORD');
  });

  it('the server answers like yubihsm-connector to wrong methods, paths and sizes, and refuses foreign Host headers', async () => {
    expect((await fetch(`${server.url}/connector/api`)).status).toBe(405);
    expect((await fetch(`${server.url}/connector/status`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/connector/api`, { method: 'POST', body: new Uint8Array(2) })).status).toBe(400);
    const rebinding = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/connector/status', headers: { Host: 'evil.example:80' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(rebinding).toBe(403);
  });
});

describe('npm run yubihsm-sim', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    // The script runs under its own process group (detached): end that group, which we started.
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  it('builds the simulator, serves the connector protocol on the asked port, and a session works', async () => {
    child = spawn('npm', ['run', '--silent', 'yubihsm-sim', '--', '--port', '0', '--serial', '31337'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no "listening" line within 50 s; output: ${out}`)), 50_000);
      child?.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child?.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      child?.on('exit', (code) => reject(new Error(`yubihsm-sim exited with ${code}: ${out}`)));
    });
    const hsm = await YubiHsm.connect(new HttpConnectorTransport(url));
    expect(hsm.info?.serial).toBe(31337);
    const s = await hsm.openSession(1, 'password');
    expect(await cmd.getPseudoRandom(s, 16)).toHaveLength(16);
    await hsm.close();
  });
});
