import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { gitRevision } from './version.js';

describe('the source revision', () => {
  it('reads a checkout\'s commit: a detached HEAD, a loose ref, a packed ref; nothing without a checkout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-revision-'));
    try {
      const root = pathToFileURL(`${dir}/`);
      expect(gitRevision(root)).toBeUndefined();
      mkdirSync(join(dir, '.git/refs/heads'), { recursive: true });
      writeFileSync(join(dir, '.git/HEAD'), `${'a1'.repeat(20)}\n`);
      expect(gitRevision(root)).toBe('a1a1a1a1a1a1');
      writeFileSync(join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
      writeFileSync(join(dir, '.git/packed-refs'), `# pack-refs\n${'b2'.repeat(20)} refs/heads/main\n`);
      expect(gitRevision(root)).toBe('b2b2b2b2b2b2');
      writeFileSync(join(dir, '.git/refs/heads/main'), `${'c3'.repeat(20)}\n`);
      expect(gitRevision(root)).toBe('c3c3c3c3c3c3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('EXPORTER_REVISION names it where there is no checkout (the image)', () => {
    expect(loadConfig({ EXPORTER_REVISION: '3f2a9c1' }).revision).toBe('3f2a9c1');
    expect(loadConfig({}).revision).toBeUndefined();
  });
});
