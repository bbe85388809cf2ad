// One installed copy of @opentelemetry/api in the repository: the API keeps its providers in one
// global registry, and a second copy (nested under a package whose peer range the hoisted copy
// does not meet) gets its own module state, so spans made through it can go nowhere. The same
// holds for an app that installs web-otel, which is why the API is web-otel's peer dependency.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** every @opentelemetry/api under a node_modules directory, nested ones too (symlinked workspaces are not followed) */
function apiCopies(nodeModules: string, found: string[] = []): string[] {
  if (!existsSync(nodeModules)) return found;
  const api = join(nodeModules, '@opentelemetry', 'api', 'package.json');
  if (existsSync(api)) found.push(api);
  for (const name of readdirSync(nodeModules)) {
    const packages = name.startsWith('@') ? readdirSync(join(nodeModules, name)).map((n) => join(nodeModules, name, n)) : [join(nodeModules, name)];
    for (const dir of packages) {
      if (lstatSync(dir).isDirectory()) apiCopies(join(dir, 'node_modules'), found);
    }
  }
  return found;
}

describe('@opentelemetry/api in the repository', () => {
  it('is installed once, at a version web-otel accepts', () => {
    const roots = ['node_modules', 'exporter/node_modules', 'web-otel/node_modules', 'grafana/node_modules'];
    const copies = roots.flatMap((root) => apiCopies(join(repoDir, root))).map((p) => p.slice(repoDir.length + 1));
    expect(copies).toEqual(['node_modules/@opentelemetry/api/package.json']);

    const { version } = JSON.parse(readFileSync(join(repoDir, copies[0]!), 'utf8')) as { version: string };
    const webOtel = JSON.parse(readFileSync(join(repoDir, 'web-otel', 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(version).toBe(webOtel.devDependencies['@opentelemetry/api']);
  });
});
