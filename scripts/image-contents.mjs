#!/usr/bin/env node
// What exporter/Dockerfile puts in /app, assembled in a directory without Docker: the `deps`
// stage's COPY and RUN lines run as they are written (so its production install is the one
// checked), then the final stage's COPY lines, with the `build` stage's output taken from this
// checkout's exporter/dist (npm run build first). Prints the size of each part.
//
//   node scripts/image-contents.mjs [dir]     (default: a new temporary directory)
//
// The base image (node:*-slim) is not included: its size is Docker Hub's to state.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Dockerfile's stages: name and instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text) {
  const stages = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instruction.toUpperCase() === 'FROM') {
      const [image, , name] = rest;
      stages.push({ image, name: name ?? `stage${stages.length}`, steps: [] });
    } else {
      stages.at(-1).steps.push({ instruction: instruction.toUpperCase(), args });
    }
  }
  return stages;
}

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

/** COPY [--from=stage] src... dest, with dest relative to /app (every stage's WORKDIR). */
function runCopy(args, dir, sources) {
  const parts = args.split(/\s+/);
  const from = parts[0].startsWith('--from=') ? parts.shift().slice('--from='.length) : undefined;
  const dest = parts.pop();
  for (const src of parts) {
    const source = sources(from, src);
    // Docker's rules: a directory's contents go into dest; a file goes into dest/ or becomes dest.
    const target = !statSync(source).isDirectory() && dest.endsWith('/') ? join(dir, dest, basename(source)) : join(dir, dest);
    copy(source, target);
  }
}

function size(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((n, entry) => n + size(join(path, entry)), 0);
}

export function assembleImage(out) {
  const stages = parseDockerfile(readFileSync(join(root, 'exporter', 'Dockerfile'), 'utf8'));
  const deps = stages.find((s) => s.name === 'deps');
  const final = stages.at(-1);
  if (!deps) throw new Error('exporter/Dockerfile has no `deps` stage');
  if (!existsSync(join(root, 'exporter', 'dist', 'server.js'))) throw new Error('exporter/dist is not built: npm run build');

  const depsDir = join(out, '.deps-stage');
  mkdirSync(depsDir, { recursive: true });
  for (const { instruction, args } of deps.steps) {
    if (instruction === 'COPY') runCopy(args, depsDir, (_from, src) => join(root, src));
    if (instruction === 'RUN') {
      const result = spawnSync('sh', ['-c', args], { cwd: depsDir, stdio: ['ignore', 'inherit', 'inherit'] });
      if (result.status !== 0) throw new Error(`the deps stage's RUN failed (exit ${result.status}): ${args}`);
    }
  }
  const app = join(out, 'app');
  mkdirSync(app, { recursive: true });
  for (const { instruction, args } of final.steps) {
    if (instruction !== 'COPY') continue;
    runCopy(args, app, (from, src) => {
      if (from === 'deps') return join(depsDir, src.replace(/^\/app\//, ''));
      if (from === 'build') return join(root, src.replace(/^\/app\//, ''));
      if (from) throw new Error(`COPY --from=${from}: unknown stage`);
      return join(root, src);
    });
  }
  return {
    app,
    base: final.image,
    sizes: {
      node_modules: size(join(app, 'node_modules')),
      'exporter/dist': size(join(app, 'exporter', 'dist')),
      sql: size(join(app, 'sql')),
      total: size(app),
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : mkdtempSync(join(tmpdir(), 'cc-image-'));
  const { app, base, sizes } = assembleImage(out);
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  process.stdout.write(`/app of the exporter image, assembled in ${app}\n`);
  for (const [part, n] of Object.entries(sizes)) process.stdout.write(`  ${part.padEnd(14)} ${mb(n)}\n`);
  process.stdout.write(`  (on top of the base image ${base})\n`);
}
