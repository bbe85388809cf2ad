// Debian's chromium for the browser test, driven by playwright-core (which never downloads one).
// Absent locally, the test skips and says so; with CI=true an absent browser is an error.
import { existsSync } from 'node:fs';

export const CHROMIUM_ARGS = [
  '--no-sandbox', // CI runs as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking', // the closed network refuses background connections
  '--disable-component-update',
  '--disable-sync',
];

export function findChromium(): { path: string | undefined; skip: string | undefined } {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const path = candidates.find((p) => existsSync(p));
  if (path) return { path, skip: undefined };
  if (process.env.CI === 'true') throw new Error('CI=true but chromium is not installed (apt-get install chromium)');
  return { path: undefined, skip: 'chromium is not installed' };
}
