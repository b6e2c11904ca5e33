import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNewFileVerified } from '../../src-main/transcript/fs-durable.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-durable-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeNewFileVerified', () => {
  it('writes, reads back and returns the SHA-256 of what is on disk, with the mode asked for', async () => {
    const path = join(dir, 'alice.share');
    const data = new TextEncoder().encode('share bytes');
    expect(await writeNewFileVerified(path, data, 0o600)).toBe(createHash('sha256').update(data).digest('hex'));
    expect(readFileSync(path, 'utf8')).toBe('share bytes');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('never overwrites: an existing file is refused with EEXIST and left as it was', async () => {
    const path = join(dir, 'alice.share');
    writeFileSync(path, 'the first share');
    await expect(writeNewFileVerified(path, new TextEncoder().encode('another'))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path, 'utf8')).toBe('the first share');
  });
});
