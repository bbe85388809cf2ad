#!/usr/bin/env node
// Runs shell commands side by side and fails if any fails: `npm test` starts typecheck, lint and
// the Deno tests together, `npm run typecheck` its four projects (on 2 cores about a third
// faster than one after another). Each command's output is printed whole when it ends, under
// its name, so the outputs do not interleave.
//   node scripts/parallel.mjs 'tsc -p exporter' 'eslint .'
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import process from 'node:process';

const commands = process.argv.slice(2);
if (commands.length === 0) {
  process.stderr.write('usage: node scripts/parallel.mjs <command> [<command>...]\n');
  process.exit(2);
}

const results = await Promise.all(
  commands.map(
    (command) =>
      new Promise((resolve) => {
        const child = spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0') } });
        const chunks = [];
        child.stdout.on('data', (c) => chunks.push(c));
        child.stderr.on('data', (c) => chunks.push(c));
        child.on('error', (err) => resolve({ command, code: 127, output: `${err.message}\n` }));
        child.on('close', (code, signal) => {
          const output = Buffer.concat(chunks).toString();
          process.stdout.write(`> ${command}${code === 0 ? '' : `  (failed: ${signal ?? `exit ${code}`})`}\n${output}`);
          resolve({ command, code: code ?? 1, output });
        });
      }),
  ),
);
const failed = results.filter((r) => r.code !== 0);
if (failed.length > 0) {
  process.stderr.write(`failed: ${failed.map((r) => r.command).join(', ')}\n`);
  process.exit(failed[0].code);
}
