import { describe, expect, it } from 'vitest';
import { analysisQueries, ANALYSIS_DEFAULTS, evidenceOf, judge, type AnalysisOptions } from './analysis.js';

const options: AnalysisOptions = { ...ANALYSIS_DEFAULTS, environment: 'production', release: 'v2', baseline: 'v1', since: new Date(0), windowSeconds: 600 };
const queries = { candidate: analysisQueries('production', 'v2', 600), baseline: analysisQueries('production', 'v1', 600) };
const measures = (m: Partial<{ requests: number; errors: number; p95: number | null; lcpSamples: number; lcpP75: number | null }>) => ({
  requests: 1000, errors: 10, p95: 0.3, lcpSamples: 100, lcpP75: 2, ...m,
});

describe('the verdict of a release against the one before it', () => {
  it('passes when nothing got worse past its threshold', () => {
    const v = judge(options, measures({ errors: 29, p95: 0.44, lcpP75: 2.4 }), measures({}), queries);
    expect(v.verdict).toBe('pass');
    expect(v.checks.map((c) => c.result)).toEqual(['pass', 'pass', 'pass']);
  });

  it('is a regression past each threshold, one at a time', () => {
    expect(judge(options, measures({ errors: 31 }), measures({}), queries).verdict).toBe('regression'); // 3.1% vs 1.0%
    expect(judge(options, measures({ p95: 0.46 }), measures({}), queries).verdict).toBe('regression'); // x1.53, +0.16 s
    expect(judge(options, measures({ lcpP75: 2.6 }), measures({}), queries).verdict).toBe('regression'); // x1.3, +0.6 s
  });

  it('does not call a slower p95 a regression when the difference is within the bucket noise', () => {
    // x2, but only 0.05 s more
    expect(judge(options, measures({ p95: 0.1 }), measures({ p95: 0.05 }), queries).verdict).toBe('pass');
  });

  it('skips LCP without enough samples, and is inconclusive without enough requests on either side', () => {
    const lcp = judge(options, measures({ lcpSamples: 5, lcpP75: 9 }), measures({}), queries);
    expect(lcp.verdict).toBe('pass');
    expect(lcp.checks[2]).toMatchObject({ name: 'LCP p75', result: 'skipped', detail: 'too few samples (5 and 100; 20 each needed)' });
    const thin = judge(options, measures({ requests: 12, errors: 12 }), measures({}), queries);
    expect(thin.verdict).toBe('inconclusive');
    expect(thin.summary).toBe('inconclusive: v2 had 12 API requests in the 600 s window (at least 50 each are needed); not rolled back');
    expect(judge(options, measures({}), measures({ requests: 3 }), queries).verdict).toBe('inconclusive');
  });

  it('names each failed check with its values and the queries of both sides as evidence', () => {
    const bad = judge(options, measures({ errors: 200 }), measures({}), queries);
    const evidence = evidenceOf({ ...bad, environment: 'production', release: 'v2', baseline: 'v1', windowSeconds: 600, candidateAt: 'T1', baselineAt: 'T0', requests: { candidate: 1000, baseline: 1000 } });
    expect(evidence).toMatch(/^API error ratio: 20\.0% vs 1\.0% \(at most \+2\.0 points\); v2: sum\(.*release="v2".*\) at T1; v1: sum\(.*release="v1".*\) at T0$/);
  });

  it('quotes label values, so a release name cannot change the query', () => {
    expect(analysisQueries('prod"uction', 'v2"} or vector(1) #', 60).requests).toContain('env="prod\\"uction", release="v2\\"} or vector(1) #"');
  });
});
