// SECURITY.md follows every claim with the test that proves it, as
// `file` › "describe block" › "test title". Each one named must exist, so that the document
// cannot point at a test that was renamed or removed (npm test then runs them all).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const doc = readFileSync(`${root}SECURITY.md`, 'utf8');
const CITATION = /`((?:exporter|web-otel|grafana|prometheus|checks)\/[^`]+\.test\.ts)` › "([^"]+)" › "([^"]+)"/g;

describe('SECURITY.md', () => {
  it('names only tests that exist, and every claim line names one', () => {
    const citations = [...doc.matchAll(CITATION)].map((m) => ({ file: m[1]!, block: m[2]!, title: m[3]! }));
    expect(citations.length).toBeGreaterThan(40);
    const missing: string[] = [];
    for (const { file, block, title } of citations) {
      if (!existsSync(`${root}${file}`)) {
        missing.push(`${file}: no such file`);
        continue;
      }
      const source = readFileSync(`${root}${file}`, 'utf8').replace(/\\'/g, "'");
      const describeName = block.replace(/ \[(pglite|postgres)\]$/, '');
      if (!source.includes(describeName)) missing.push(`${file}: no describe block "${describeName}"`);
      if (!source.includes(title)) missing.push(`${file}: no test "${title}"`);
    }
    expect(missing).toEqual([]);
    // A line saying "Test:" or "Tests:" names a test.
    for (const line of doc.split('\n').filter((l) => /\bTests?:/.test(l))) {
      expect(CITATION.test(line), line).toBe(true);
      CITATION.lastIndex = 0;
    }
  });
});
