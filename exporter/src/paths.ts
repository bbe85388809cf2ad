// Where the repository's SQL lives, for both src/ (tests) and dist/ (built) modules.
import { fileURLToPath } from 'node:url';

const sqlRoot = new URL('../../sql/', import.meta.url);

export const sqlPaths = {
  migrations: fileURLToPath(new URL('migrations/', sqlRoot)),
  app: fileURLToPath(new URL('app/', sqlRoot)),
  seed: fileURLToPath(new URL('seed/', sqlRoot)),
};

/** The prepared embedded database (a template per migration set) is kept here between starts. */
export const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/cc-exporter/', import.meta.url));
