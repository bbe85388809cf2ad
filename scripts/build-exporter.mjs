#!/usr/bin/env node
// Builds exporter/dist when it is missing or older than its sources, and otherwise returns at
// once (about 50 ms), so `npm start`, `npm run ops` and the other root scripts start the built
// exporter without a full `tsc` each time. `--force` always builds (`npm run build`).
//
// The last build is recorded in exporter/dist/.build-stamp.json: the source list and when that
// build started. A source newer than that, a source added or removed, or a changed tsconfig or
// package.json means a build; a removed source also clears dist/, so nothing of it is left to run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exporter = join(root, 'exporter');
const dist = join(exporter, 'dist');
const stampFile = join(dist, '.build-stamp.json');
const force = process.argv.includes('--force');
// prepare (at npm install) in an installation without TypeScript (--omit=dev) builds nothing.
const ifPossible = process.argv.includes('--if-possible');

/** What tsconfig.build.json compiles (src without tests and test helpers), and what configures it. */
function inputs() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(exporter, 'src', 'test')) walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        files.push(path);
      }
    }
  };
  walk(join(exporter, 'src'));
  files.push(join(exporter, 'tsconfig.json'), join(exporter, 'tsconfig.build.json'), join(exporter, 'package.json'), join(root, 'tsconfig.base.json'));
  return files.map((f) => relative(root, f)).sort();
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return undefined;
  }
}

function why(files) {
  if (force) return 'forced';
  const stamp = readStamp();
  if (!stamp) return 'no build yet';
  if (JSON.stringify(stamp.files) !== JSON.stringify(files)) return 'sources added or removed';
  const changed = files.filter((f) => statSync(join(root, f)).mtimeMs > stamp.startedAt);
  return changed.length > 0 ? `${changed.length} changed since the last build` : undefined;
}

const files = inputs();
const reason = why(files);
if (reason !== undefined) {
  const stamp = readStamp();
  if (stamp && JSON.stringify(stamp.files) !== JSON.stringify(files)) rmSync(dist, { recursive: true, force: true });
  if (!force) process.stderr.write(`building exporter/ (${reason})...\n`);
  const startedAt = Date.now();
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (ifPossible && !existsSync(tsc)) process.exit(0);
  const result = spawnSync(process.execPath, [tsc, '-p', join(exporter, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('exporter/ did not build: see the errors above\n');
    process.exit(result.status ?? 1);
  }
  mkdirSync(dist, { recursive: true });
  writeFileSync(stampFile, `${JSON.stringify({ startedAt, files })}\n`);
}
