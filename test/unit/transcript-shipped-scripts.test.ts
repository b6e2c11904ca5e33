// The verifier's list of shipped scripts (src-main/transcript/shipped-scripts.ts) must hold the SHA-256 of
// every script in ceremonies/ as this version ships it: a script edited without `npm run script-hashes`
// fails here, before a release could ship a script its own verifier calls unknown.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHIPPED_SCRIPTS } from '../../src-main/transcript/shipped-scripts.js';
import { shippedIn } from '../../src-main/transcript/ceremony-kind.js';

const root = join(import.meta.dirname, '../..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const files = readdirSync(join(root, 'ceremonies')).filter((f) => f.endsWith('.yaml')).sort();

describe('shipped script hashes', () => {
  it(`lists every script in ceremonies/ for version ${version}, as the files are now`, () => {
    expect(files.length).toBeGreaterThan(0);
    const now = files.map((f) => ({ version, file: `ceremonies/${f}`, sha256: createHash('sha256').update(readFileSync(join(root, 'ceremonies', f))).digest('hex') }));
    const listed = SHIPPED_SCRIPTS.filter((s) => s.version === version);
    for (const n of now) {
      const entry = listed.find((s) => s.file === n.file);
      expect(entry?.sha256, `${n.file} changed (SHA-256 ${n.sha256}) but src-main/transcript/shipped-scripts.ts lists ${entry?.sha256 ?? 'nothing'} for it: run npm run script-hashes and commit the result`).toBe(n.sha256);
    }
    expect(listed.map((s) => s.file), 'src-main/transcript/shipped-scripts.ts lists a script ceremonies/ no longer holds: run npm run script-hashes').toEqual(now.map((n) => n.file));
  });

  it('answers by hash which versions shipped a script', () => {
    const first = SHIPPED_SCRIPTS[0];
    expect(first).toBeDefined();
    expect(shippedIn(first?.sha256 as string)).toContain(first?.version);
    expect(shippedIn('0'.repeat(64))).toEqual([]);
  });
});
