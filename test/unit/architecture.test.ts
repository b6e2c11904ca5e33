// Boundaries from DESIGN.md that a careless import would break silently.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|svelte)$/.test(name) ? [path] : [];
  });
}

const importsOf = (path: string) => [...readFileSync(path, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);

describe('architecture', () => {
  it('only src-main/app and the preload import electron', () => {
    const offenders = [...files('src-main'), ...files('hsm'), ...files('src-renderer')]
      .filter((f) => !f.startsWith(join('src-main', 'app')))
      .filter((f) => importsOf(f).some((s) => s === 'electron' || s?.startsWith('electron/')));
    expect(offenders).toEqual([]);
  });

  it('the renderer imports no Node built-in and takes only types from the contract', () => {
    for (const f of files('src-renderer')) {
      const source = readFileSync(f, 'utf8');
      for (const spec of importsOf(f)) {
        expect(spec, `${f} imports ${spec}`).not.toMatch(/^node:|^(fs|path|os|child_process|crypto|electron|pkcs11js|zod)$/);
      }
      for (const m of source.matchAll(/import\s+(type\s+)?[^;]*?from\s+['"]([^'"]*src-preload[^'"]*)['"]/g)) {
        expect(m[1], `${f} must import the contract with 'import type'`).toBe('type ');
      }
    }
  });

  it('the token layer does not reach into the app', () => {
    const offenders = files('hsm').filter((f) => importsOf(f).some((s) => s?.includes('src-main') || s?.includes('src-preload') || s?.includes('src-renderer')));
    expect(offenders).toEqual([]);
  });
});
