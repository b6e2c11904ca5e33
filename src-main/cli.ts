#!/usr/bin/env node
// `keyceremony`: the same engine as the app, without Electron, for rehearsals, automation and verification.
import { runCli } from './cli/main.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keyceremony: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 70;
  },
);
