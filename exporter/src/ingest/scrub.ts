// Text hygiene for what browsers send: truncation, characters Postgres refuses, and redaction
// of e-mail addresses and token-like strings (labels.ts) at a cost bounded by the input length.
import { redact } from '../labels.js';

/**
 * Characters that can be part of an e-mail address or token match in labels.ts (both
 * patterns are ASCII-only): a match never spans any other character, and every other
 * character is a non-word character for \b, so redacting each maximal run of these on its
 * own gives exactly redact(whole text).
 */
const MATCHABLE_RUN = /[A-Za-z0-9._%+@-]+/g;

/**
 * Longest run handed to redact(). Its patterns backtrack quadratically over one run
 * ("a-a-a-…" or a long word without "@"), so a longer run, which is never prose (a blob, a
 * long token, junk), is replaced whole. An address is at most 254 characters.
 */
export const MAX_REDACTED_RUN = 256;
export const REDACTED_RUN = '[redacted]';

/** redact() from labels.ts, in time linear in the length of the text. */
export function redactBounded(text: string): string {
  return text.replace(MATCHABLE_RUN, (run) => (run.length > MAX_REDACTED_RUN ? REDACTED_RUN : redact(run)));
}

/** A URL without query string and fragment, redacted (scrubUrl() of labels.ts, bounded). */
export function scrubUrlBounded(url: string): string {
  return redactBounded(url.replace(/[?#].*$/s, ''));
}

/** At most `max` UTF-16 units, not splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.charCodeAt(max - 1) >= 0xd800 && text.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return text.slice(0, cut);
}

// NUL and lone surrogates: Postgres text and jsonb refuse both, and one bad string would
// fail the whole insert.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text Postgres stores as given: NUL dropped, lone surrogates replaced by U+FFFD. */
export function storable(text: string): string {
  return text.replace(UNSTORABLE, (c) => (c === '\u0000' ? '' : '\ufffd'));
}

/** Free text (a message, a stack): truncated first, then made storable and redacted. */
export function scrubText(text: string, maxLength: number): string {
  return storable(redactBounded(truncate(text, maxLength)));
}

/** A URL for a row: truncated, query and fragment dropped, redacted, storable. */
export function scrubUrlText(url: string, maxLength: number): string {
  return storable(scrubUrlBounded(truncate(url, maxLength)));
}
