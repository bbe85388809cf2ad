// How `npm start`, `npm run ops` and the other root scripts get a built exporter: the root's
// scripts/build-exporter.mjs builds when dist/ is missing or older than a source and otherwise
// does nothing; and the cc-ops command npm links. The build script runs here on a small copy of
// the layout (its own exporter/src of two files), so a build takes a second, not the project's.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function run(cwd: string, args: string[] = []) {
  const result = spawnSync(process.execPath, [join(cwd, 'scripts', 'build-exporter.mjs'), ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('scripts/build-exporter.mjs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cc-build-'));
    mkdirSync(join(dir, 'scripts'));
    cpSync(join(root, 'scripts', 'build-exporter.mjs'), join(dir, 'scripts', 'build-exporter.mjs'));
    cpSync(join(root, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
    for (const d of ['src', 'test', 'bench']) mkdirSync(join(dir, 'exporter', d), { recursive: true });
    for (const f of ['tsconfig.json', 'tsconfig.build.json', 'tsconfig.bench.json', 'package.json']) cpSync(join(root, 'exporter', f), join(dir, 'exporter', f));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'exporter', 'src', 'a.ts'), "export const a: number = 1;\n");
    writeFileSync(join(dir, 'exporter', 'src', 'b.ts'), "import { a } from './a.js';\nexport const b = a + 1;\n");
    writeFileSync(join(dir, 'exporter', 'src', 'b.test.ts'), 'export {};\n');
    writeFileSync(join(dir, 'exporter', 'test', 'helper.ts'), 'export {};\n');
    writeFileSync(join(dir, 'exporter', 'bench', 'run.ts'), "import { b } from '../src/b.js';\nconsole.log(b);\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const dist = (f: string) => join(dir, 'exporter', 'dist', f);

  it('builds when there is no build, then does nothing until a source changes, is added or is removed', () => {
    const first = run(dir);
    expect(first).toMatchObject({ status: 0, stderr: 'building exporter/ (no build yet)...\n' });
    expect(existsSync(dist('b.js'))).toBe(true);
    // Unit tests, the test harness and the benchmarks are not built into dist/.
    expect(readdirSync(join(dir, 'exporter', 'dist')).sort()).toEqual(['.build-stamp.json', 'a.js', 'a.js.map', 'b.js', 'b.js.map']);

    expect(run(dir)).toMatchObject({ status: 0, stderr: '' });

    // An edit (mtime after the last build started) builds again.
    const later = new Date(Date.now() + 5_000);
    writeFileSync(join(dir, 'exporter', 'src', 'a.ts'), 'export const a: number = 2;\n');
    utimesSync(join(dir, 'exporter', 'src', 'a.ts'), later, later);
    expect(run(dir)).toMatchObject({ status: 0, stderr: 'building exporter/ (1 changed since the last build)...\n' });
    expect(spawnSync(process.execPath, ['--input-type=module', '-e', `import { b } from ${JSON.stringify(dist('b.js'))}; console.log(b);`], { encoding: 'utf8' }).stdout).toBe('3\n');

    // A removed source clears dist/, so nothing of it is left to run.
    writeFileSync(join(dir, 'exporter', 'src', 'c.ts'), 'export const c = 3;\n');
    expect(run(dir)).toMatchObject({ status: 0, stderr: 'building exporter/ (sources added or removed)...\n' });
    expect(existsSync(dist('c.js'))).toBe(true);
    rmSync(join(dir, 'exporter', 'src', 'c.ts'));
    expect(run(dir)).toMatchObject({ status: 0, stderr: 'building exporter/ (sources added or removed)...\n' });
    expect(existsSync(dist('c.js'))).toBe(false);
    expect(existsSync(dist('b.js'))).toBe(true);

    // --force always builds, quietly (npm run build).
    expect(run(dir, ['--force'])).toMatchObject({ status: 0, stderr: '' });
  });

  it('--bench also builds the benchmarks, into dist-bench/ beside dist/, and again only when they change', () => {
    // (the test above dated a.ts 5 s ahead: back to the past, and a build, so dist/ is current)
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'exporter', 'src', 'a.ts'), past, past);
    expect(run(dir, ['--force']).status).toBe(0);
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: 'building exporter/bench/ (no build yet)...\n' });
    const out = spawnSync(process.execPath, [join(dir, 'exporter', 'dist-bench', 'bench', 'run.js')], { encoding: 'utf8' });
    expect(out.stdout).toBe('3\n');
    expect(existsSync(dist('bench'))).toBe(false);
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: '' });
    const later = new Date(Date.now() + 10_000);
    writeFileSync(join(dir, 'exporter', 'bench', 'run.ts'), "import { b } from '../src/b.js';\nconsole.log(b + 1);\n");
    utimesSync(join(dir, 'exporter', 'bench', 'run.ts'), later, later);
    // Only the benchmarks changed: dist/ stays as it is.
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: 'building exporter/bench/ (1 changed since the last build)...\n' });

    // The one test helper the benchmarks import (test/support/exporter.ts, in tsconfig.bench.json's
    // include) is one of their sources: added, then changed, it builds them again.
    utimesSync(join(dir, 'exporter', 'bench', 'run.ts'), past, past);
    const helper = join(dir, 'exporter', 'test', 'support', 'exporter.ts');
    mkdirSync(join(dir, 'exporter', 'test', 'support'), { recursive: true });
    writeFileSync(helper, 'export const helper: number = 1;\n');
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: 'building exporter/bench/ (sources added or removed)...\n' });
    expect(existsSync(join(dir, 'exporter', 'dist-bench', 'test', 'support', 'exporter.js'))).toBe(true);
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: '' });
    writeFileSync(helper, 'export const helper: number = 2;\n');
    const evenLater = new Date(Date.now() + 10_000);
    utimesSync(helper, evenLater, evenLater);
    expect(run(dir, ['--bench'])).toMatchObject({ status: 0, stderr: 'building exporter/bench/ (1 changed since the last build)...\n' });
  }, 120_000); // six builds, each a few seconds on a busy machine

  it('a source that does not compile fails the command with tsc errors, and the next run tries again', () => {
    const bad = join(dir, 'exporter', 'src', 'bad.ts');
    writeFileSync(bad, 'export const bad: number = "text";\n');
    const failed = run(dir);
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain("bad.ts(1,14): error TS2322: Type 'string' is not assignable to type 'number'");
    expect(failed.stderr).toContain('exporter/ did not build: see the errors above');
    const again = run(dir);
    expect(again.status).not.toBe(0);
    rmSync(bad);
    expect(run(dir).status).toBe(0);
  });
});

describe('the cc-ops command', () => {
  it('is linked by npm install and runs the built CLI (npx cc-ops)', () => {
    const bin = join(root, 'node_modules', '.bin', 'cc-ops');
    expect(existsSync(bin), `${bin} is missing: npm install links it`).toBe(true);
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: cc-ops <command> [options]');
    const unknown = spawnSync(bin, ['no-such-command'], { encoding: 'utf8', timeout: 60_000 });
    expect(unknown.status).toBe(2);
  });

  it('says to build, exit 2, where the exporter is not built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-ops-unbuilt-'));
    try {
      mkdirSync(join(dir, 'bin'));
      cpSync(join(root, 'exporter', 'bin', 'cc-ops.js'), join(dir, 'bin', 'cc-ops.js'));
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
      const result = spawnSync(process.execPath, [join(dir, 'bin', 'cc-ops.js'), '--help'], { encoding: 'utf8' });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('cc-ops: the exporter is not built (exporter/dist/ops/ops.js is missing): run `npm run build` in the repository');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
