// Label hygiene shared by the event collector and the OTLP receiver: route templates instead
// of raw URLs (no ids, no query strings), redaction of e-mail addresses and token-like strings,
// and a cap on distinct values per label so a bad client cannot explode the series count.

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

/** A URL without its query string and fragment, with e-mail addresses and tokens redacted. */
export function scrubUrl(raw: string): string {
  return redact(raw.replace(/[?#].*$/s, ''));
}

/** Free text (messages, stacks) with e-mail addresses and token-like strings redacted. */
export function redact(text: string): string {
  return text.replace(EMAIL, '[email]').replace(TOKEN, '[token]');
}

/** A label value: printable, trimmed, at most MAX_LABEL_LENGTH characters. */
export function sanitizeLabel(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (clean === '') return 'unknown';
  return clean.length > MAX_LABEL_LENGTH ? clean.slice(0, MAX_LABEL_LENGTH) : clean;
}

/** A label value from anything a row holds: a string sanitized, nothing "unknown", anything else as text. */
export function labelValue(raw: unknown): string {
  if (typeof raw === 'string') return sanitizeLabel(raw);
  if (raw === undefined || raw === null) return 'unknown';
  return sanitizeLabel(typeof raw === 'object' ? JSON.stringify(raw).slice(0, MAX_ROUTE_INPUT) : String(raw));
}
