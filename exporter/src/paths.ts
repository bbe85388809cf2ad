// Where the repository's files are, for every build of this module: exporter/src (tests),
// exporter/dist (npm start, the image), exporter/dist-bench/src (the benchmarks). The root is
// the nearest directory above this file that holds sql/migrations (the image keeps sql/ at /app).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'sql', 'migrations'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no sql/migrations above ${from}: the exporter runs from its repository or its image`);
  }
}

/** The repository (or the image's /app): sql/, exporter/, node_modules/ are below it. */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

export const sqlPaths = {
  migrations: join(repoRoot, 'sql', 'migrations') + '/',
  app: join(repoRoot, 'sql', 'app') + '/',
  seed: join(repoRoot, 'sql', 'seed') + '/',
};

/** The exporter package (its package.json, dist/ and bin/). */
export const exporterDir = join(repoRoot, 'exporter');

/** The prepared embedded database (a template per migration set) is kept here between starts. */
export const cacheDir = join(repoRoot, 'node_modules', '.cache', 'cc-exporter') + '/';
