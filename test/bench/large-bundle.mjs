// Writes a signed bundle with a transcript of SIZE_MB megabytes (default 300), for measuring the verifier's
// memory by hand (docs/transcript-format.md, "Limits"):
//   node test/bench/large-bundle.mjs /tmp/large 300 && /usr/bin/time -v node out/main/cli.js verify /tmp/large/bundle
// Entries are written one at a time (canonical JSON with keys in sorted order, as the format requires), so
// the generator itself stays small. The audit key is a throw-away software key.
import { createHash, createSign, generateKeyPairSync } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir = '/tmp/kc-large', sizeMb = '300'] = process.argv.slice(2);
const target = Number(sizeMb) * 1e6;
const out = join(dir, 'bundle');
mkdirSync(out, { recursive: true });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const spki = publicKey.export({ type: 'spki', format: 'der' });
const pem = publicKey.export({ type: 'spki', format: 'pem' });
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// JSON.stringify of an object whose keys are inserted in sorted order is its JCS form for this data.
const sorted = (v) => (v === null || typeof v !== 'object' || Array.isArray(v) ? v : Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])));
const seal = (body) => {
  const hash = sha256(JSON.stringify(sorted(body)));
  return sorted({ ...body, hash });
};

const file = createWriteStream(join(out, 'transcript.jsonl'));
const digest = createHash('sha256');
const signer = createSign('sha384');
let bytes = 0;
const write = (entry) => {
  const line = `${JSON.stringify(entry)}\n`;
  digest.update(line);
  signer.update(line);
  bytes += Buffer.byteLength(line);
  return file.write(line);
};

const ceremony = 'large-0';
let prev = '0'.repeat(64);
let seq = 0;
const t0 = Date.parse('2026-01-31T12:00:00.000Z');
const next = async (kind, step, data) => {
  const e = seal({ actor: 'administrator', ceremonyId: ceremony, data, kind, prev, seq, step, time: new Date(t0 + seq).toISOString() });
  prev = e.hash;
  seq += 1;
  if (!write(e)) await new Promise((r) => file.once('drain', r));
  return e;
};
const first = await next('genesis', 'genesis', { auditKey: { algorithm: 'ECDSA-P384-SHA384', spki: spki.toString('base64') }, format: 'keyceremony-transcript/1', token: { label: 'large', manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '0001' } });
while (bytes < target) await next('note', `step-${seq % 40}`, { i: seq, label: `kms-key-${seq % 13}`, detail: { bits: 256, mechanism: 'CKM_AES_KEY_WRAP_PAD' }, text: 'x'.repeat(200) });
await new Promise((r) => file.end(r));

const transcriptSig = signer.sign({ key: privateKey, dsaEncoding: 'der' });
writeFileSync(join(out, 'transcript.jsonl.sig'), transcriptSig);
writeFileSync(join(out, 'audit-public-key.pem'), pem);
const verifyMd = '# Verifying this transcript bundle\n\nA generated bundle for measuring the verifier.\n';
writeFileSync(join(out, 'VERIFY.md'), verifyMd);
const manifest = {
  format: 'keyceremony-transcript-bundle/2',
  ceremony,
  ceremonyIds: [ceremony],
  entries: { first: 0, last: seq - 1, count: seq },
  prev: first.prev,
  head: prev,
  auditKey: { algorithm: 'ECDSA-P384-SHA384', spkiSha256: sha256(spki) },
  appVersion: 'bench',
  createdAt: new Date().toISOString(),
  files: {
    'transcript.jsonl': { sha256: digest.digest('hex'), bytes },
    'transcript.jsonl.sig': { sha256: sha256(transcriptSig), bytes: transcriptSig.length },
    'audit-public-key.pem': { sha256: sha256(pem), bytes: Buffer.byteLength(pem) },
    'VERIFY.md': { sha256: sha256(verifyMd), bytes: Buffer.byteLength(verifyMd) },
  },
};
const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
writeFileSync(join(out, 'manifest.json'), manifestText);
const ms = createSign('sha384');
ms.update(manifestText);
writeFileSync(join(out, 'manifest.json.sig'), ms.sign({ key: privateKey, dsaEncoding: 'der' }));
console.log(`${out}: ${seq} entries, ${(bytes / 1e6).toFixed(1)} MB`);
