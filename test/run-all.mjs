#!/usr/bin/env node
// `npm test`: every tier in order (typecheck, unit + integration, electronegativity, build, e2e), each run even when an earlier
// one failed, then one closing line "N passed, N failed" over all of them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const results = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(title, command, args, env = {}) {
  process.stdout.write(`\n=== ${title}: ${command} ${args.join(' ')}\n`);
  const r = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

mkdirSync('test-results', { recursive: true });

// 1. Types: one check, pass or fail.
if (run('typecheck', 'npm', ['run', '--silent', 'typecheck'])) results.passed += 1;
else {
  results.failed += 1;
  failures.push('typecheck');
}

// 2. Unit and integration (vitest, real tokens).
rmSync('test-results/vitest.json', { force: true });
const vitestOk = run('unit + integration', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/vitest.json']);
const vitest = readJson('test-results/vitest.json');
if (vitest) {
  results.passed += vitest.numPassedTests;
  results.failed += vitest.numFailedTests;
  results.skipped += vitest.numPendingTests + (vitest.numTodoTests ?? 0);
  if (vitest.numFailedTests > 0 || !vitestOk) failures.push('vitest');
  if (!vitestOk && vitest.numFailedTests === 0) results.failed += 1; // a suite that failed to load
} else {
  results.failed += 1;
  failures.push('vitest (no report)');
}

// 3. Electronegativity over main, preload and renderer: fails on a HIGH or MEDIUM finding not accepted in
// test/security/electronegativity-accepted.json.
if (run('electronegativity', 'node', ['test/security/electronegativity.mjs'])) results.passed += 1;
else {
  results.failed += 1;
  failures.push('electronegativity');
}

// 4. Build: e2e runs the built renderer.
const built = run('build', 'npx', ['electron-vite', 'build']);
if (built && existsSync('out/main/index.js') && existsSync('out/preload') && existsSync('out/renderer/index.html')) results.passed += 1;
else {
  results.failed += 1;
  failures.push('build');
}

// 5. e2e (Playwright, Debian chromium, real IPC handlers bridged in).
if (built) {
  rmSync('test-results/playwright.json', { force: true });
  const e2eOk = run('e2e', 'npx', ['playwright', 'test']);
  const pw = readJson('test-results/playwright.json');
  if (pw?.stats) {
    results.passed += pw.stats.expected + (pw.stats.flaky ?? 0);
    results.failed += pw.stats.unexpected;
    results.skipped += pw.stats.skipped;
    if (pw.stats.unexpected > 0 || !e2eOk) failures.push('e2e');
    if (!e2eOk && pw.stats.unexpected === 0) results.failed += 1;
  } else {
    results.failed += 1;
    failures.push('e2e (no report)');
  }
}

if (failures.length > 0) process.stdout.write(`\nFailed tiers: ${failures.join(', ')}\n`);
process.stdout.write(`\n${results.passed} passed, ${results.failed} failed${results.skipped ? `, ${results.skipped} skipped` : ''}\n`);
process.exit(results.failed > 0 ? 1 : 0);
