// Benchmark of the text module (text.ts) on hostile 64 KB values: what one value in a row anyone
// holding the anon key may write (up to 64 KB), or in a span attribute, costs the collectors and
// the receiver. The goal is < 5 ms a value; the figures go to BENCHMARKS.md ("Hostile text").
// `npm run bench:text`
import { SpanKind } from '../src/ingest/decode.js';
import type { AttributeValue, ReceivedSpan } from '../src/ingest/decode.js';
import { spansToRows } from '../src/ingest/spans.js';
import { compileRoutePatterns, labelValue, MAX_REDACTED_RUN, redactRun, routeTemplate, scrubText, scrubUrlText } from '../src/text.js';

const SIZE = 65_536;
const RUNS = 50;
const patterns = compileRoutePatterns(['/menu/:category', '/orders/:id/track']);

/** Values built to make regular expressions backtrack, or to be long where a short one is expected. */
const HOSTILE: Record<string, string> = {
  'a-a-a-… (token-like run)': 'a-'.repeat(SIZE / 2),
  'xxxx… (one word)': 'x'.repeat(SIZE),
  '/a-a-a-… (a path)': `/${'a-'.repeat(SIZE / 2 - 1)}`,
  'a.a.a.…@ (an address that never ends)': `${'a.'.repeat(SIZE / 2 - 1)}@`,
  'https://h/999… (a URL)': `https://h.example/${'9'.repeat(SIZE - 18)}`,
  'runs just under the bound, no @ or digit': `${'a-'.repeat(MAX_REDACTED_RUN / 2 - 1)}a `.repeat(Math.floor(SIZE / MAX_REDACTED_RUN)),
  'runs just under the bound, made to pass every precheck': `${'a-'.repeat(MAX_REDACTED_RUN / 2 - 3)}a.1@ `.repeat(Math.floor(SIZE / MAX_REDACTED_RUN)),
  'e-mail addresses back to back': 'jane.doe@example.com '.repeat(Math.floor(SIZE / 21)),
};

function time(fn: () => unknown): { median: number; max: number } {
  for (let i = 0; i < 3; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, max: ms[ms.length - 1]! };
}

function span(value: string): ReceivedSpan {
  const attributes = new Map<string, AttributeValue>([
    ['url.full', value],
    ['http.request.method', 'GET'],
    ['http.response.status_code', 500],
    ['session.id', value],
  ]);
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    name: 'HTTP GET',
    kind: SpanKind.CLIENT,
    startTimeUnixNano: now - 1_000_000n,
    endTimeUnixNano: now,
    attributes,
    resource: new Map(),
    events: [{ name: 'exception', timeUnixNano: now, attributes: new Map<string, AttributeValue>([['exception.type', value], ['exception.message', value], ['exception.stacktrace', value]]) }],
    statusCode: 2,
    statusMessage: '',
    scopeName: '@opentelemetry/instrumentation-fetch',
  };
}

const paths: Record<string, (v: string) => unknown> = {
  'collector: routeTemplate (page, endpoint)': (v) => routeTemplate(v, patterns),
  'collector: labelValue (action, error type, provider)': (v) => labelValue(v),
  'receiver: scrubText (message, stack), 4096 kept': (v) => scrubText(v, 4096),
  'receiver: scrubUrlText (url), 4096 kept': (v) => scrubUrlText(v, 4096),
  'receiver: a whole span, value in url, session, type, message, stack': (v) => spansToRows([span(v)], { routePatterns: patterns, maxAttributeLength: 4096 }),
  'receiver: scrubText, the whole 64 KB kept': (v) => scrubText(v, SIZE),
};

console.log(`Hostile text, ${SIZE.toLocaleString('en-US')} characters a value, ${RUNS} runs each (median / max ms), Node ${process.version}\n`);
let worst = 0;
let worstKeptWhole = 0;
for (const [pathName, fn] of Object.entries(paths)) {
  console.log(pathName);
  for (const [valueName, value] of Object.entries(HOSTILE)) {
    const { median, max } = time(() => fn(value));
    if (pathName.includes('whole 64 KB')) worstKeptWhole = Math.max(worstKeptWhole, max);
    else worst = Math.max(worst, max);
    console.log(`  ${valueName.padEnd(56)} ${median.toFixed(3).padStart(8)} ${max.toFixed(3).padStart(8)}`);
  }
}
console.log(`\nworst single value with the default limits (4,096 characters kept): ${worst.toFixed(3)} ms (goal: under 5 ms)`);
console.log(`worst with OTLP_MAX_ATTRIBUTE_LENGTH raised to keep all 64 KB: ${worstKeptWhole.toFixed(3)} ms (the cost follows what is kept)`);

// What the patterns cost without the bound, on far shorter values: the quadratic curve the bound removes.
console.log('\nwithout the bound (the two patterns over one whole run, as labels.ts did before), one run each:');
for (const n of [2_048, 4_096, 8_192, 16_384]) {
  const t = performance.now();
  redactRun(`${'a-'.repeat(n / 2 - 2)}.1@`);
  console.log(`  ${n.toLocaleString('en-US').padStart(6)} characters of a-a-a-….1@: ${(performance.now() - t).toFixed(1)} ms`);
}
