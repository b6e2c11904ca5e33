#!/usr/bin/env node
// `npm run bench`: loads the TypeScript benchmarks through Vite's SSR module loader (no build step) and runs
// each one. Figures are ratios against a baseline measured in the same run; nothing is asserted.
import { resolve } from 'node:path';
import { createServer } from 'vite';

const files = process.argv.slice(2);
const benches = files.length > 0 ? files : ['test/bench/transcript-bench.ts', 'test/bench/renderer-bench.ts', 'test/bench/kms-import-bench.ts'];
const server = await createServer({ configFile: false, logLevel: 'error', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
try {
  for (const file of benches) {
    const mod = await server.ssrLoadModule(resolve(file));
    await mod.main();
  }
} finally {
  await server.close();
}
