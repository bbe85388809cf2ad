import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redact, scrubUrl } from '../labels.js';
import { MAX_REDACTED_RUN, redactBounded, scrubText, scrubUrlBounded, scrubUrlText, storable, truncate } from './scrub.js';

// Text made of the characters the patterns care about, so matches are frequent.
const alphabet = fc.constantFrom(...'aZ09._%+-@ /:?#=&é\n'.split(''), 'jane.doe@example.com', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123');
const text = fc.array(alphabet, { maxLength: 60 }).map((parts) => parts.join(''));

describe('redactBounded', () => {
  it('is redact() exactly when no run of address or token characters is over the bound', () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 })), (s) => {
        expect(redactBounded(s)).toBe(redact(s));
        expect(scrubUrlBounded(s)).toBe(scrubUrl(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('replaces a run over the bound whole, and stays fast on input that makes redact() quadratic', () => {
    expect(redactBounded(`ok ${'a'.repeat(MAX_REDACTED_RUN + 1)} end`)).toBe('ok [redacted] end');
    expect(redactBounded(`ok ${'a'.repeat(MAX_REDACTED_RUN)} end`)).toBe(`ok ${'a'.repeat(MAX_REDACTED_RUN)} end`);
    // The worst case: runs just under the bound, one after another (a megabyte of them).
    const started = performance.now();
    for (const unit of ['a-', 'aa', 'a.', 'a%']) redactBounded(`${unit.repeat(MAX_REDACTED_RUN / 2)} `.repeat(1_000_000 / MAX_REDACTED_RUN));
    expect(performance.now() - started).toBeLessThan(4_000);
  });

  it('redacts what redact() redacts', () => {
    expect(scrubText('failed for jane.doe@example.com with key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 1000)).toBe('failed for [email] with key [token]');
    expect(scrubUrlText('https://shop.example/u/jane@example.com/orders?token=abc#x', 1000)).toBe('https://shop.example/u/[email]/orders');
  });
});

describe('truncate and storable', () => {
  it('truncates without splitting a surrogate pair', () => {
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('abcdef', 3)).toBe('abc');
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀', 4)).toBe('ab😀');
  });

  it('drops NUL and replaces lone surrogates, which Postgres refuses', () => {
    expect(storable('a\u0000b')).toBe('ab');
    expect(storable('x\ud800y')).toBe('x\ufffdy');
    expect(storable('x\udc00')).toBe('x\ufffd');
    expect(storable('ok 😀\n\t')).toBe('ok 😀\n\t');
  });

  it('truncates before redacting', () => {
    // An address cut by the limit is no longer an address: the limit applies to what is kept.
    expect(scrubText('see jane@example.com', 12)).toBe('see jane@exa');
    expect(scrubText('x'.repeat(10_000), 100)).toHaveLength(100);
  });
});
