#!/usr/bin/env node
// Entry point of the `orchestrate` CLI: runs the compiled orchestrator (npm run build).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`orchestrate: ${err?.message ?? err}`); process.exitCode = 1; },
);
