#!/usr/bin/env node
// How long the test tiers take on this machine: `npm run bench:tests` runs each vitest project
// (unit, system, e2e) alone, then all three in one run as `npm test` does, and prints each run's
// wall time, the sum of its files' times, and its slowest files. Set TEST_DATABASE_URL as for
// npm test. It builds first (the system and e2e tiers run exporter/dist) and does not typecheck
// or lint; `npm test` adds those and the Deno tests (their time is printed too).
// BENCH_TIERS=unit,e2e runs only those; VITEST_MAX_WORKERS applies as in npm test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const runs = (process.env.BENCH_TIERS ?? 'unit,system,e2e,all').split(',').map((t) => t.trim());
const out = mkdtempSync(join(tmpdir(), 'cc-test-times-'));

function timed(label, command, args) {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) process.stdout.write(`  (${label} exited ${result.status})\n`);
  return seconds;
}

process.stdout.write(`test tiers on ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}\n`);
process.stdout.write(`  build (npm run build): ${timed('build', 'npm', ['run', '--silent', 'build']).toFixed(1)} s\n`);
if (runs.includes('all')) {
  process.stdout.write(`  typecheck: ${timed('typecheck', 'npm', ['run', '--silent', 'typecheck']).toFixed(1)} s\n`);
  process.stdout.write(`  lint: ${timed('lint', 'npm', ['run', '--silent', 'lint']).toFixed(1)} s\n`);
  process.stdout.write(`  Deno tests (npm run test:edge): ${timed('test:edge', 'npm', ['run', '--silent', 'test:edge']).toFixed(1)} s\n`);
}
for (const tier of runs) {
  const file = join(out, `${tier}.json`);
  const projects = tier === 'all' ? [] : ['--project', tier];
  const wall = timed(tier, process.execPath, [vitest, 'run', ...projects, '--reporter=json', `--outputFile=${file}`]);
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    process.stdout.write(`  ${tier}: no report (${wall.toFixed(1)} s)\n`);
    continue;
  }
  const files = report.testResults.map((r) => ({ name: relative(root, r.name), seconds: (r.endTime - r.startTime) / 1000 }));
  const sum = files.reduce((s, f) => s + f.seconds, 0);
  const slowest = [...files].sort((a, b) => b.seconds - a.seconds).slice(0, 5);
  process.stdout.write(
    `  ${tier === 'all' ? 'all three tiers in one run (npm test)' : `${tier} tier`}: ${wall.toFixed(1)} s wall, ` +
      `${files.length} files, ${report.numTotalTests} tests (${report.numFailedTests} failed), ${sum.toFixed(0)} s of file time\n` +
      slowest.map((f) => `      ${f.seconds.toFixed(1).padStart(6)} s  ${f.name}\n`).join(''),
  );
  for (const r of report.testResults) {
    for (const t of r.assertionResults.filter((a) => a.status === 'failed')) {
      process.stdout.write(`      failed: ${relative(root, r.name)} > ${t.fullName}\n        ${(t.failureMessages[0] ?? '').split('\n')[0]}\n`);
    }
  }
}
rmSync(out, { recursive: true, force: true });
