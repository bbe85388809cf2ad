// The package as an app gets it: `npm pack` (its prepack builds dist/), the tarball unpacked into a
// scratch app's node_modules, an app that imports the public entry points bundled for the browser
// with esbuild and with Vite, and type-checked with tsc against the tarball's .d.ts. The package's
// own dependencies come from the repository's node_modules (esbuild's nodePaths, tsc's paths,
// symlinks in the Vite app's node_modules), so nothing is fetched.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const webOtelDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = join(webOtelDir, '..');
const repoModules = join(repoDir, 'node_modules');
const NAME = '@connect-observability/web-otel';

const REPO_BLOB = 'https://github.com/camerons-connect/connect-observability/blob/main/';

// Measured on 2 shared cores, idle: npm pack with its build 1.6 s, the esbuild bundle 0.1 s, the Vite
// build 0.3 s (the tarball unpacked again included), tsc 1.7 s.
const SETUP_TIMEOUT = 120_000;
const TEST_TIMEOUT = 60_000;

/** npm settings a parent `npm run`/`npm test` may pass down that would change what `npm pack` does */
function packEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_config_(dry_run|json|workspaces?|include_workspace_root|pack_destination|ignore_scripts)$/i.test(key)) delete env[key];
  }
  return env;
}

/** the package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name` */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const APP = `
import { trace } from '@opentelemetry/api';
import { initObservability, metrics, type Observability, type RouteMatcher } from '${NAME}';
import { webVitalsAttribution } from '${NAME}/attribution';

const matchRoute: RouteMatcher = (pathname) => (pathname.startsWith('/orders/') ? '/orders/:id' : undefined);

export const observability: Observability = initObservability({
  serviceName: 'shop-web',
  serviceVersion: '1.2.3',
  environment: 'production',
  matchRoute,
  webVitals: { source: webVitalsAttribution },
});

// The app's own spans, through its own import of the API: the same global registry as the library's.
trace.getTracer('shop').startSpan('checkout').end();
observability.recordUserAction('add_to_cart', { item: 'pizza' });
export { metrics };

export function wrongOptions(): void {
  // @ts-expect-error serviceName is a string (proves the types come from the .d.ts and are not any)
  initObservability({ serviceName: 42 });
}
`;

describe('the npm pack tarball, installed in an app', () => {
  let tmp: string;
  let tarball: string;
  let appDir: string;
  let installed: string;
  let entries: string[];
  let manifest: { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; exports: Record<string, unknown> };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'web-otel-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: webOtelDir, env: packEnv(), maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    tarball = join(tmp, packed!.filename);
    entries = (await run('tar', ['-tzf', tarball])).stdout
      .split('\n')
      .filter(Boolean)
      .map((entry) => entry.replace(/^package\//, ''));

    appDir = join(tmp, 'app');
    installed = join(appDir, 'node_modules', ...NAME.split('/'));
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    await writeFile(join(appDir, 'main.ts'), APP);
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('holds dist/ (.js with .d.ts beside each) and package.json, and no sources or tests', () => {
    for (const file of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/attribution.js', 'dist/attribution.d.ts']) {
      expect(entries).toContain(file);
    }
    const stray = entries.filter((e) => !(e.startsWith('dist/') || ['package.json', 'README.md', 'LICENSE'].includes(e)));
    expect(stray).toEqual([]);
    expect(entries.filter((e) => /(^|\/)src\/|\.test\.|testUtils|\.map$|\.tsbuildinfo$/.test(e))).toEqual([]);
    const js = entries.filter((e) => e.endsWith('.js'));
    expect(js.length).toBeGreaterThan(10);
    expect(js.filter((e) => !entries.includes(e.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('ships a README whose links work on a package page: absolute, and those into this repository name a file and heading that exist', async () => {
    // A relative link would lead nowhere on the registry's page of the package. checks/links.test.ts
    // skips absolute URLs, so the ones into this repository are checked here.
    const readme = await readFile(join(installed, 'README.md'), 'utf8');
    // outside fenced code and code spans
    const prose = readme.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
    const targets = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?\s*\)/g)].map((m) => m[1]!);
    expect(targets.length).toBeGreaterThan(3);
    expect(targets.filter((t) => !/^(?:https:\/\/|#)/.test(t))).toEqual([]);
    const problems: string[] = [];
    for (const target of targets.filter((t) => t.startsWith(REPO_BLOB))) {
      const [path = '', anchor] = target.slice(REPO_BLOB.length).split('#');
      const file = join(repoDir, path);
      if (!existsSync(file)) problems.push(`${target}: no such file`);
      else if (anchor !== undefined && !headingAnchors(await readFile(file, 'utf8')).has(anchor)) problems.push(`${target}: no such heading`);
    }
    expect(problems).toEqual([]);
  });

  it('exports . and ./attribution to files in the tarball, with @opentelemetry/api a peer only', () => {
    for (const subpath of ['.', './attribution']) {
      const target = manifest.exports[subpath] as { types: string; import: string };
      expect(Object.keys(target)).toEqual(['types', 'import']);
      expect(existsSync(join(installed, target.types))).toBe(true);
      expect(existsSync(join(installed, target.import))).toBe(true);
    }
    expect(manifest.peerDependencies?.['@opentelemetry/api']).toBeDefined();
    expect(manifest.dependencies?.['@opentelemetry/api']).toBeUndefined();
  });

  it('bundles for the browser with one copy of @opentelemetry/api, importing only declared dependencies', async () => {
    let metafile: Metafile;
    let code: string;
    try {
      const result = await build({
        entryPoints: [join(appDir, 'main.ts')],
        absWorkingDir: appDir,
        nodePaths: [repoModules],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2020',
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      expect(result.errors).toEqual([]);
      metafile = result.metafile;
      code = result.outputFiles[0]!.text;
    } catch (error) {
      const failure = error as { errors?: { text: string }[] };
      throw new Error(`esbuild failed: ${failure.errors?.map((e) => e.text).join('; ') ?? String(error)}`);
    }
    const inputs = Object.keys(metafile.inputs).map((p) => join(appDir, p));

    // the library came from the tarball's dist/, never from the repository's sources
    const fromTarball = inputs.filter((p) => p.startsWith(join(installed, 'dist') + '/'));
    expect(fromTarball).toContain(join(installed, 'dist/index.js'));
    expect(fromTarball).toContain(join(installed, 'dist/attribution.js'));
    expect(inputs.filter((p) => p.startsWith(join(webOtelDir, 'src')))).toEqual([]);

    // one @opentelemetry/api package root, and its global registry key once in the bundle
    const apiRoots = new Set(inputs.map((p) => /^(.*\/node_modules\/@opentelemetry\/api)\//.exec(p)?.[1]).filter(Boolean));
    expect([...apiRoots]).toEqual([join(repoModules, '@opentelemetry/api')]);
    expect(code.match(/(?<![\w.])opentelemetry\.js\.api\./g)).toHaveLength(1); // (io.opentelemetry.js.api.logs is api-logs')

    // every package the tarball's code imports is one it declares
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const imported = new Set<string>();
    for (const [path, input] of Object.entries(metafile.inputs)) {
      if (!join(appDir, path).startsWith(installed + '/')) continue;
      for (const { original } of input.imports) {
        if (original && !original.startsWith('.')) imported.add(packageOf(original));
      }
    }
    expect(imported.size).toBeGreaterThan(3);
    expect([...imported].filter((name) => !declared.has(name))).toEqual([]);
  }, TEST_TIMEOUT);

  it('builds with Vite as an app build, with one copy of @opentelemetry/api', async () => {
    // Vite is vitest's own (the repository's node_modules), imported here only. Its app gets the
    // tarball unpacked again into a node_modules of its own, beside symlinks to the repository's
    // copies of the package's declared dependencies; Vite follows the symlinks to the real paths,
    // so what those import resolves in the repository's node_modules.
    const { build: viteBuild } = await import('vite');
    const viteApp = join(tmp, 'vite-app');
    const viteInstalled = join(viteApp, 'node_modules', ...NAME.split('/'));
    await mkdir(viteInstalled, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', viteInstalled, '--strip-components=1']);
    for (const name of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]) {
      const link = join(viteApp, 'node_modules', ...name.split('/'));
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(repoModules, name), link, 'dir');
    }
    await writeFile(join(viteApp, 'main.ts'), APP);
    await writeFile(join(viteApp, 'index.html'), '<!doctype html><html><head><script type="module" src="./main.ts"></script></head><body></body></html>\n');

    const result = await viteBuild({
      root: viteApp,
      configFile: false,
      envFile: false,
      logLevel: 'silent',
      build: { write: false, outDir: join(viteApp, 'dist'), rolldownOptions: { input: join(viteApp, 'index.html') } },
    });
    const outputs = Array.isArray(result) ? result : [result];
    const chunks = outputs.flatMap((o) => ('output' in o ? o.output : [])).filter((c) => c.type === 'chunk');
    expect(chunks.length).toBeGreaterThan(0);
    const code = chunks.map((c) => c.code).join('\n');
    const modules = chunks.flatMap((c) => Object.keys(c.modules));

    // the library came from the tarball's dist/, never from the repository's sources (dist/index.js
    // only re-exports, so it renders no code of its own and is not among a chunk's modules)
    expect(modules).toContain(join(viteInstalled, 'dist/init.js'));
    expect(modules).toContain(join(viteInstalled, 'dist/attribution.js'));
    const library = modules.filter((id) => id.startsWith(webOtelDir + '/') || id.includes('/@connect-observability/web-otel/'));
    expect(library.length).toBeGreaterThan(10);
    expect(library.filter((id) => !id.startsWith(join(viteInstalled, 'dist') + '/'))).toEqual([]);

    // one @opentelemetry/api package root, and its global registry key once in the bundle
    const apiRoots = new Set(modules.map((id) => /^(.*\/node_modules\/@opentelemetry\/api)\//.exec(id)?.[1]).filter(Boolean));
    expect([...apiRoots]).toEqual([join(repoModules, '@opentelemetry/api')]);
    expect(code.match(/(?<![\w.])opentelemetry\.js\.api\./g)).toHaveLength(1);
  }, TEST_TIMEOUT);

  it('type-checks an app against the tarball .d.ts (tsc --noEmit, moduleResolution bundler)', async () => {
    // tsc has no nodePaths: each declared dependency maps to its copy in the repository's node_modules
    const paths: Record<string, string[]> = {};
    for (const name of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]) {
      paths[name] = [join(repoModules, name)];
      paths[`${name}/*`] = [join(repoModules, name, '*')];
    }
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'bundler',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false, // the tarball's .d.ts are checked too, as an app that checks its libraries would
        paths,
      },
      files: ['main.ts'],
    };
    // not tsconfig.json, which esbuild would read (its paths) in the bundle test
    await writeFile(join(appDir, 'tsconfig.typecheck.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = join(repoModules, 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.typecheck.json', '--listFilesOnly'], { cwd: appDir }).catch((e: { stdout: string }) => e);
    const listed = result.stdout.split('\n').filter(Boolean);
    expect(listed).toContain(join(installed, 'dist/index.d.ts'));
    expect(listed).toContain(join(installed, 'dist/attribution.d.ts'));
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.typecheck.json'], { cwd: appDir }).then(
      () => '',
      (e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`,
    );
    expect(check).toBe('');
  }, TEST_TIMEOUT);
});

/** A markdown file's anchors: its headings' as GitHub makes them (simplified: no repeats, no inline links) and its HTML ids. */
function headingAnchors(markdown: string): Set<string> {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const headings = [...prose.matchAll(/^ {0,3}#{1,6}\s+(.*?)\s*$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-'),
  );
  const ids = [...prose.matchAll(/<[a-z]+\s[^>]*\b(?:id|name)="([^"]+)"/gi)].map((m) => m[1]!);
  return new Set([...headings, ...ids]);
}
