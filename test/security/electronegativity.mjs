#!/usr/bin/env node
// `npm run electronegativity`, and a counted step of `npm test`: Electronegativity over the sources
// of all three Electron parts at once (main, preload, renderer), told the Electron version we ship. Every
// HIGH or MEDIUM finding must be listed in electronegativity-accepted.json with the reason it was judged a
// false positive; any other one fails, and so does an accepted entry that no longer matches anything (the
// list stays true). Offline it still runs: the tool tries the network (translations, Electron releases)
// and continues without it.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const SOURCES = ['src-main', 'src-preload', 'src-renderer'];
const FAILING = new Set(['HIGH', 'MEDIUM']);

/** The library's own result objects, as its CLI prints them: check, severity, confidence, where, the code. */
function findingsOf(result) {
  return result.issues.map((i) => ({ issue: i.id, severity: i.severity.name, confidence: i.confidence.name, file: i.file, location: `${i.location.line}:${i.location.column}`, sample: String(i.sample ?? '').trim() }));
}

/** An accepted entry names the check, the file and the code it flags (not the line, which moves). */
const matches = (entry, f) => entry.issue === f.issue && entry.file === f.file && f.sample.includes(entry.sample);

async function main() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const electronVersion = pkg.devDependencies?.electron;
  if (!/^\d+\.\d+\.\d+$/.test(electronVersion ?? '')) throw new Error(`package.json: devDependencies.electron must be an exact version, not ${electronVersion}`);
  const accepted = JSON.parse(readFileSync(join(here, 'electronegativity-accepted.json'), 'utf8')).accepted;

  // One input folder holding the three source trees, so one run sees main, preload and renderer together
  // and reports paths as src-main/…, src-preload/…, src-renderer/….
  const work = mkdtempSync(join(tmpdir(), 'kc-electronegativity-'));
  try {
    for (const dir of SOURCES) cpSync(join(root, dir), join(work, 'scan', dir), { recursive: true });
    // Called as a library, not through its CLI: the CLI's CSV output (-o) writes the header and the rows
    // with two racing writes, and a lost row must never read as "no finding". Options as the CLI's:
    // -e electronVersionOverride, -r isRelative, -l customScan (empty: every check).
    const run = createRequire(import.meta.url)('@doyensec/electronegativity');
    const result = await run({ input: join(work, 'scan'), output: undefined, isSarif: false, customScan: [], excludeFromScan: [], isRelative: true, isVerbose: false, electronVersionOverride: electronVersion, parserPlugins: [] }, false);
    // A file it could not parse is a file it did not check.
    const unread = result.errors.filter((e) => !e.tolerable);
    if (unread.length > 0) throw new Error(`electronegativity could not parse ${unread.length} file(s): ${unread.map((e) => `${e.file}: ${e.message}`).join('; ')}`);
    const all = findingsOf(result);
    const serious = all.filter((f) => FAILING.has(f.severity));
    const unexpected = serious.filter((f) => !accepted.some((a) => matches(a, f)));
    const stale = accepted.filter((a) => !serious.some((f) => matches(a, f)));

    process.stdout.write(`electronegativity ${SOURCES.join(', ')} (Electron ${electronVersion}): ${all.length} findings, ${serious.length} HIGH or MEDIUM, ${serious.length - unexpected.length} of them accepted\n`);
    for (const f of all) {
      const mark = !FAILING.has(f.severity) ? 'note' : unexpected.includes(f) ? 'FAIL' : 'accepted';
      process.stdout.write(`  ${mark.padEnd(8)} ${f.severity.padEnd(13)} ${f.issue} ${f.file}:${f.location} ${f.sample.slice(0, 80)}\n`);
    }
    for (const a of stale) process.stdout.write(`  STALE    ${a.issue} ${a.file} "${a.sample}": no finding matches this accepted entry any more; remove it from test/security/electronegativity-accepted.json\n`);
    if (unexpected.length > 0) process.stdout.write(`\n${unexpected.length} HIGH or MEDIUM finding(s) not accepted: fix the code, or add an entry with the reason it is a false positive.\n`);
    return unexpected.length === 0 && stale.length === 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exit((await main()) ? 0 : 1);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
