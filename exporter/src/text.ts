// Text from outside (browser spans, rows anyone holding the anon key may write up to 64 KB,
// webhook payloads) made safe to store and to use as a label, in one place for the receiver and
// the collectors. Every function cuts its input first and runs patterns only on what is left, and
// redaction is linear in the input: a 64 KB hostile value costs well under 5 ms
// (BENCHMARKS.md, "Hostile text").
//   - truncation that never splits a surrogate pair, and the characters Postgres refuses;
//   - redaction of e-mail addresses and token-like strings;
//   - route templates instead of raw URLs (no ids, no query strings) and label values.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_ID = /^[0-9a-f]{12,}$/i;
const NUMBER = /^\d+$/;
const EMAIL = /[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}/gi;
// JWTs, bearer tokens and long opaque keys: 24+ url-safe characters with both letters and digits.
const TOKEN = /\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}(?:\.[A-Za-z0-9_-]+){0,2}\b/g;
const MAX_LABEL_LENGTH = 120;

/** A configured route pattern such as /orders/:id or /menu/:category/items. */
export interface RoutePattern {
  template: string;
  regex: RegExp;
}

export function compileRoutePatterns(templates: readonly string[]): RoutePattern[] {
  return templates.map((template) => {
    const body = template
      .replace(/\/+$/, '')
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : escapeRegex(segment)))
      .join('/');
    return { template, regex: new RegExp(`^${body || '/'}/?$`) };
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Is a path segment an identifier (to collapse into :id)? */
function isIdSegment(segment: string): boolean {
  return (
    NUMBER.test(segment) ||
    UUID.test(segment) ||
    HEX_ID.test(segment) ||
    segment.includes('@') ||
    (segment.length >= 16 && /\d/.test(segment) && /[A-Za-z]/.test(segment))
  );
}

/** Longest URL, path or name routeTemplate() reads: a label is at most MAX_LABEL_LENGTH anyway. */
export const MAX_ROUTE_INPUT = 512;

/**
 * The route template of a URL, path or endpoint name: scheme, host, query string and fragment
 * dropped; the first matching configured pattern wins; otherwise ids, uuids, long hex and
 * token-like segments collapse to :id. A name that is not a path ("orders.select") is kept.
 */
export function routeTemplate(raw: unknown, patterns: readonly RoutePattern[] = []): string {
  if (typeof raw !== 'string' || raw.trim() === '') return 'unknown';
  // Cut first: the value may come from a row anyone could write (64 KB), and redact()'s patterns
  // backtrack quadratically over a long run (a 24 KB endpoint held the event loop 0.3-6 s).
  let path = raw.slice(0, MAX_ROUTE_INPUT).trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    try {
      path = new URL(path).pathname;
    } catch {
      return 'unknown';
    }
  }
  path = path.replace(/[?#].*$/, '');
  if (!path.startsWith('/')) return sanitizeLabel(redact(path));
  path = path.replace(/\/{2,}/g, '/');
  if (path.length > 1) path = path.replace(/\/+$/, '');
  for (const pattern of patterns) if (pattern.regex.test(path)) return pattern.template;
  const collapsed = path
    .split('/')
    .map((segment) => (segment && isIdSegment(safeDecode(segment)) ? ':id' : segment))
    .join('/');
  return sanitizeLabel(collapsed);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Longest text a label value is made from: what follows is never read. */
export const MAX_LABEL_INPUT = 256;

/** A label value: printable, trimmed, at most MAX_LABEL_LENGTH characters. */
export function sanitizeLabel(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = truncate(value, 4 * MAX_LABEL_LENGTH).replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (clean === '') return 'unknown';
  return clean.length > MAX_LABEL_LENGTH ? truncate(clean, MAX_LABEL_LENGTH) : clean;
}

/**
 * A label value from anything a row holds (an action, an error type, a provider): cut to
 * MAX_LABEL_INPUT first, redacted, printable; nothing is "unknown"; a number or an object as text.
 */
export function labelValue(raw: unknown): string {
  if (raw === undefined || raw === null) return 'unknown';
  const text = typeof raw === 'string' ? raw : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
  return sanitizeLabel(storable(redact(truncate(text, MAX_LABEL_INPUT))));
}

/**
 * Characters that can be part of an e-mail address or token match (both patterns are
 * ASCII-only): a match never spans any other character, and every other
 * character is a non-word character for \b, so redacting each maximal run of these on its
 * own gives exactly redact(whole text).
 */
const MATCHABLE_RUN = /[A-Za-z0-9._%+@-]+/g;

/**
 * Longest run handed to the patterns. They backtrack quadratically over one run ("a-a-a-…" or
 * a long word without "@"), so the cost of a text is its length times this bound, and a longer
 * run, which is never prose (a blob, a JWT, junk), is replaced whole: redacted either way.
 */
export const MAX_REDACTED_RUN = 128;
export const REDACTED_RUN = '[redacted]';

/**
 * The two patterns over one run of address or token characters. They backtrack quadratically
 * over a long run: only redact() calls this, with runs of at most MAX_REDACTED_RUN (exported for
 * the property test that holds redact() to it).
 */
export function redactRun(run: string): string {
  // What each pattern cannot match without is looked for first (the common case costs one scan).
  const emailed = run.includes('@') ? run.replace(EMAIL, '[email]') : run;
  return emailed.length >= 24 && /\d/.test(emailed) && /[A-Za-z]/.test(emailed) ? emailed.replace(TOKEN, '[token]') : emailed;
}

/** Free text with e-mail addresses and token-like strings redacted, in time linear in its length. */
export function redact(text: string): string {
  return text.replace(MATCHABLE_RUN, (run) => (run.length > MAX_REDACTED_RUN ? REDACTED_RUN : redactRun(run)));
}

/** A URL without query string and fragment, redacted. */
export function scrubUrl(url: string): string {
  return redact(url.replace(/[?#].*$/s, ''));
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
  return storable(redact(truncate(text, maxLength)));
}

/** A URL for a row: truncated, query and fragment dropped, redacted, storable. */
export function scrubUrlText(url: string, maxLength: number): string {
  return storable(scrubUrl(truncate(url, maxLength)));
}
