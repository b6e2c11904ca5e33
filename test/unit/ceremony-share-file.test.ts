import { describe, expect, it } from 'vitest';
import { generateCeremonySecret, splitSecret } from '../../src-main/ceremony/quorum/secret.js';
import {
  DEFAULT_SCRYPT,
  openShareFile,
  parseShareFile,
  PLAIN_WARNING,
  serializeShareFile,
  shareFileAad,
  writeShareFileBytes,
  type EncryptedShareFile,
} from '../../src-main/ceremony/quorum/share-file.js';
import { encodeShareCode } from '../../src-main/ceremony/quorum/share-code.js';
import { renderShareSheetHtml, renderShareSheetText } from '../../src-main/ceremony/quorum/share-sheet.js';
import { CEREMONY_ID_PATTERN } from '../../src-main/ceremony/ids.js';
import { ID_PATTERN } from '../../src-main/transcript/entry.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 }; // tests only: the default is 2^17
const PASS = 'correct horse battery';
const shares = await splitSecret(generateCeremonySecret(), ['alice', 'bob', 'carol'], 2);
const alice = { ceremonyId: 'cer-1', custodian: 'alice', index: 1, threshold: 2, share: shares[0]!.share };
const bytes = await writeShareFileBytes(alice, { passphrase: PASS, scrypt: FAST });
const json = () => JSON.parse(Buffer.from(bytes).toString('utf8')) as EncryptedShareFile;
const enc = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('share file', () => {
  it('round-trips with the passphrase', async () => {
    const opened = await openShareFile(bytes, PASS, { ceremonyId: 'cer-1' });
    expect(opened.share).toEqual(alice.share);
    expect(opened).toMatchObject({ ceremonyId: 'cer-1', custodian: 'alice', index: 1, threshold: 2 });
    expect(json()).toMatchObject({ format: 'keyceremony-share', version: 1, kdf: { name: 'scrypt', N: 1024, r: 8, p: 1 }, cipher: { name: 'AES-256-GCM' } });
    expect(Buffer.from(bytes).toString('utf8')).not.toContain(encodeShareCode(alice).slice(0, 11));
  });

  it('normalises the passphrase to NFC', async () => {
    const b = await writeShareFileBytes(alice, { passphrase: 'caf\u00e9 au lait, merci', scrypt: FAST });
    expect((await openShareFile(b, 'cafe\u0301 au lait, merci')).index).toBe(1);
  });

  it('uses 2^17, r=8, p=1 by default', async () => {
    const b = await writeShareFileBytes(alice, { passphrase: PASS });
    expect(JSON.parse(Buffer.from(b).toString()).kdf).toMatchObject(DEFAULT_SCRYPT);
    expect((await openShareFile(b, PASS)).share).toEqual(alice.share);
  }, 20_000); // two scrypt runs at 128 MiB: about 2 s on a CI core

  it('a wrong passphrase, a tampered header or ciphertext: wrong passphrase or damaged file', async () => {
    const msg = "wrong passphrase or damaged file: alice's share file could not be decrypted";
    await expect(openShareFile(bytes, 'correct horse battery!')).rejects.toThrow(msg);
    await expect(openShareFile(enc({ ...json(), index: 2 }), PASS)).rejects.toThrow(msg);
    await expect(openShareFile(enc({ ...json(), kdf: { ...json().kdf, r: 7 } }), PASS)).rejects.toThrow(msg);
    const ct = Buffer.from(json().ciphertext, 'base64');
    ct[3]! ^= 1;
    await expect(openShareFile(enc({ ...json(), ciphertext: ct.toString('base64') }), PASS)).rejects.toThrow(msg);
    // A header re-labelled for another custodian fails too (the AAD covers it), and the error names the claim.
    await expect(openShareFile(enc({ ...json(), custodian: 'bob' }), PASS)).rejects.toThrow("wrong passphrase or damaged file: bob's share file");
    expect(shareFileAad(json()).toString()).toBe(
      `{"ceremonyId":"cer-1","cipher":{"iv":"${json().cipher.iv}","name":"AES-256-GCM"},"custodian":"alice","format":"keyceremony-share","index":1,"kdf":{"N":1024,"name":"scrypt","p":1,"r":8,"salt":"${json().kdf.salt}"},"threshold":2,"version":1}`,
    );
  });

  it('a share file of another ceremony is refused before decryption', async () => {
    await expect(openShareFile(bytes, 'not even tried', { ceremonyId: 'cer-2' })).rejects.toThrow(
      "share file for another ceremony: this file holds alice's share for ceremony cer-1; this ceremony is cer-2",
    );
  });

  const notShare: [string, unknown, string][] = [
    ['text', 'hello', 'not a share file: it is not JSON text'],
    ['an array', [], 'not a share file: it is not a JSON object'],
    ['another format', { format: 'keyceremony-transcript/1' }, 'not a share file: field \'format\' must be "keyceremony-share"'],
    ['version 2', { ...json(), version: 2 }, 'share file version 2 is not supported (this app reads version 1)'],
    ['missing ciphertext', (() => { const { ciphertext: _c, ...r } = json(); return r; })(), "not a share file: field 'ciphertext' is missing"],
    ['an extra field', { ...json(), note: 'x' }, "not a share file: unknown field 'note'"],
    ['an extra kdf field', { ...json(), kdf: { ...json().kdf, dkLen: 32 } }, "not a share file: unknown field 'kdf.dkLen'"],
    ['short iv', { ...json(), cipher: { ...json().cipher, iv: 'AAAA' } }, "not a share file: field 'cipher.iv' must be base64 of 12 bytes"],
    ['another cipher', { ...json(), cipher: { ...json().cipher, name: 'AES-128-GCM' } }, 'not a share file: field \'cipher.name\' must be "AES-256-GCM"'],
    ['huge N', { ...json(), kdf: { ...json().kdf, N: 2 ** 24 } }, 'not a share file: field kdf.N must be a power of two from 2^10 to 2^20'],
    ['bad custodian', { ...json(), custodian: '../x' }, "not a share file: field 'custodian' must be a custodian name"],
  ];
  it.each(notShare)('refuses %s', (_n, value, message) => {
    const b = typeof value === 'string' ? Buffer.from(value) : enc(value);
    expect(() => parseShareFile(b)).toThrow(message);
  });

  it('refuses short passphrases when writing and empty ones when opening', async () => {
    await expect(writeShareFileBytes(alice, { passphrase: 'short pass', scrypt: FAST })).rejects.toThrow(
      'passphrase: 10 characters; a share passphrase needs at least 12',
    );
    await expect(writeShareFileBytes(alice, { passphrase: PASS, scrypt: { N: 1000, r: 8, p: 1 } })).rejects.toThrow('scrypt.N must be a power of two');
    await expect(openShareFile(bytes, '')).rejects.toThrow('passphrase: nothing was entered');
  });

  it('writes a plain share file only when asked, and says so in the file', async () => {
    const b = await writeShareFileBytes(alice, { insecurePlain: true });
    const file = JSON.parse(Buffer.from(b).toString());
    expect(file).toEqual({
      format: 'keyceremony-share', version: 1, ceremonyId: 'cer-1', custodian: 'alice', index: 1, threshold: 2,
      insecurePlain: true, warning: PLAIN_WARNING, shareCode: encodeShareCode(alice),
    });
    expect(PLAIN_WARNING).toContain('NOT ENCRYPTED');
    expect((await openShareFile(b, undefined, { ceremonyId: 'cer-1' })).share).toEqual(alice.share);
    // A plain file whose code belongs to another ceremony than its header claims is refused.
    const other = encodeShareCode({ ...alice, ceremonyId: 'cer-9' });
    await expect(openShareFile(enc({ ...file, shareCode: other }), undefined)).rejects.toThrow('share: this share belongs to another ceremony');
  });

  it('keeps the ceremony id rule equal to the transcript', () => {
    expect(CEREMONY_ID_PATTERN.source).toBe(ID_PATTERN.source);
  });

  it('serializes as pretty JSON with a final newline', () => {
    const text = Buffer.from(serializeShareFile(json())).toString();
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "format": "keyceremony-share",');
  });
});

describe('share sheet', () => {
  const code = encodeShareCode(alice);
  const input = { custodian: 'alice', ceremonyId: 'cer-1', shareCode: code, index: 1, threshold: 2, custodianCount: 3, tokenLabel: 'kms <root>' };
  it('has the custodian, ceremony, code in lines of three groups, and instructions', () => {
    const text = renderShareSheetText(input);
    const groups = code.split('-');
    expect(text).toContain('Custodian: alice');
    expect(text).toContain('Ceremony:  cer-1');
    expect(text).toContain(` 1  ${groups[0]}  -  ${groups[1]}  -  ${groups[2]}`);
    expect(text).toContain(`16  ${groups[15]}  -  ${groups[16]}  -  ${groups[17]}`);
    expect(text).toContain('Any 2 of the 3 custodians together unlock the token');
  });
  it('escapes HTML and loads nothing', () => {
    const html = renderShareSheetHtml(input);
    expect(html).toContain('kms &#60;root&#62;');
    expect(html).not.toMatch(/<script|src=|href=/);
    expect(html).toContain(code.split('-')[0]);
  });
});
