// The exporter's version, from its package.json, and the source revision it was built from:
// EXPORTER_REVISION (the image sets it from its REVISION build argument), else the commit of the
// git checkout it runs from, else "unknown".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exporterDir, repoRoot } from './paths.js';

export const version: string = (
  JSON.parse(readFileSync(join(exporterDir, 'package.json'), 'utf8')) as { version: string }
).version;

/** The commit of the checkout this file is in. */
export function gitRevision(root: URL = pathToFileURL(`${repoRoot}/`)): string | undefined {
  try {
    const head = readFileSync(new URL('.git/HEAD', root), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head.slice(0, 12);
    const ref = /^ref: (refs\/[\w./-]+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    let sha: string | undefined;
    try {
      sha = readFileSync(new URL(`.git/${ref}`, root), 'utf8').trim();
    } catch {
      // a packed ref
      const packed = readFileSync(new URL('.git/packed-refs', root), 'utf8');
      sha = packed.split('\n').find((line) => line.endsWith(` ${ref}`))?.split(' ')[0];
    }
    return sha && /^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : undefined;
  } catch {
    return undefined;
  }
}
