#!/usr/bin/env node
// The cc-ops command as npm links it (node_modules/.bin/cc-ops, so `npx cc-ops` in the repository).
// npm links no bin whose file is missing at install, and exporter/dist is built after linking
// (by the root's prepare script), so the link points here and this runs the built CLI.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const ops = new URL('../dist/ops/ops.js', import.meta.url);
if (!existsSync(ops)) {
  process.stderr.write('cc-ops: the exporter is not built (exporter/dist/ops/ops.js is missing): run `npm run build` in the repository\n');
  process.exit(2);
}
const { main } = await import(ops.href);
process.exitCode = await main(process.argv.slice(2));
