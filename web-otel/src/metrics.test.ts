// @vitest-environment happy-dom
// The legacy facade rates a vital given without a rating by web-vitals' own thresholds, which are
// the repository's thresholds.json (the dashboards' lines): one set of bounds, whichever path a
// vital takes. The file is read from the repository: the package cannot import it (rootDir src,
// only dist is packed), so the agreement is checked here.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { THRESHOLDS } from './metrics.js';

const shared = (JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../thresholds.json'), 'utf8')) as { webVitals: Record<string, { good: number; poor: number }> }).webVitals;

describe("the legacy facade's rating thresholds", () => {
  it("are thresholds.json's web vitals (and FID's, which web-vitals 5 dropped)", () => {
    const { FID, ...vitals } = THRESHOLDS;
    expect(Object.fromEntries(Object.entries(vitals).map(([name, [good, poor]]) => [name, { good, poor }]))).toEqual(shared);
    expect(FID).toEqual([100, 300]);
  });
});
