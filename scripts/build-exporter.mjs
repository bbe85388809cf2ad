#!/usr/bin/env node
// Builds exporter/dist when it is missing or older than its sources, and otherwise returns at
// once (about 50 ms), so `npm start`, `npm run ops` and the other root scripts start the built
// exporter without a full `tsc` each time. `--force` always builds (`npm run build`); `--bench`
// also builds the benchmarks (exporter/bench) into exporter/dist-bench (`npm run bench:*`).
//
// The last build is recorded in exporter/dist/.build-stamp.json (dist-bench/ has its own): the source list and when that
// build started. A source newer than that, a source added or removed, or a changed tsconfig or
// package.json means a build; a removed source also clears dist/, so nothing of it is left to run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exporter = join(root, 'exporter');
const force = process.argv.includes('--force');
// prepare (at npm install) in an installation without TypeScript (--omit=dev) builds nothing.
const ifPossible = process.argv.includes('--if-possible');

/**
 * What is built: the service and the ops CLI (exporter/src without its unit tests, into dist/,
 * what `npm start`, cc-ops and the image run), and with --bench also the benchmarks
 * (exporter/bench with the src they import and the one test helper that starts the exporter
 * process, test/support/exporter.ts, into dist-bench/, never shipped). `files` are single
 * sources of a target (as its tsconfig's include lists them), counted when they exist.
 */
const targets = [{ name: 'exporter/', dirs: ['src'], files: [], tsconfig: 'tsconfig.build.json', out: 'dist' }];
if (process.argv.includes('--bench')) targets.push({ name: 'exporter/bench/', dirs: ['src', 'bench'], files: ['test/support/exporter.ts'], tsconfig: 'tsconfig.bench.json', out: 'dist-bench' });

/** The sources a target compiles (no tests), and what configures it. */
function inputs(target) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) files.push(path);
    }
  };
  for (const dir of target.dirs) walk(join(exporter, dir));
  for (const file of target.files) if (existsSync(join(exporter, file))) files.push(join(exporter, file));
  files.push(join(exporter, 'tsconfig.json'), join(exporter, target.tsconfig), join(exporter, 'package.json'), join(root, 'tsconfig.base.json'));
  return files.map((f) => relative(root, f)).sort();
}

function readStamp(stampFile) {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return undefined;
  }
}

function why(stamp, files) {
  if (force) return 'forced';
  if (!stamp) return 'no build yet';
  if (JSON.stringify(stamp.files) !== JSON.stringify(files)) return 'sources added or removed';
  const changed = files.filter((f) => statSync(join(root, f)).mtimeMs > stamp.startedAt);
  return changed.length > 0 ? `${changed.length} changed since the last build` : undefined;
}

for (const target of targets) {
  const dist = join(exporter, target.out);
  const stampFile = join(dist, '.build-stamp.json');
  const files = inputs(target);
  const stamp = readStamp(stampFile);
  const reason = why(stamp, files);
  if (reason === undefined) continue;
  // A removed source also clears the output, so nothing of it is left to run.
  if (stamp && JSON.stringify(stamp.files) !== JSON.stringify(files)) rmSync(dist, { recursive: true, force: true });
  if (!force) process.stderr.write(`building ${target.name} (${reason})...\n`);
  const startedAt = Date.now();
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (ifPossible && !existsSync(tsc)) process.exit(0);
  const result = spawnSync(process.execPath, [tsc, '-p', join(exporter, target.tsconfig)], { stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`${target.name} did not build: see the errors above\n`);
    process.exit(result.status ?? 1);
  }
  mkdirSync(dist, { recursive: true });
  writeFileSync(stampFile, `${JSON.stringify({ startedAt, files })}\n`);
}
