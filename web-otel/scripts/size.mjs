// Bundles the library as an app would (esbuild, ESM, minified, for browsers) and prints the gzip size
// of the default setup beside a plain OpenTelemetry web setup with the same instrumentations
// (document-load, fetch, XHR, web-vitals), both measured in this run. Exits 1 over the budget.
//   node scripts/size.mjs [--json]
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const BUDGET_BYTES = 30 * 1024;

export const entries = {
  'web-otel default setup': `
    import { initObservability } from './src/index.ts';
    initObservability({ serviceName: 'web', serviceVersion: '1.0.0', environment: 'production' });
  `,
  'plain OpenTelemetry web setup': `
    import { WebTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-web';
    import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
    import { resourceFromAttributes } from '@opentelemetry/resources';
    import { registerInstrumentations } from '@opentelemetry/instrumentation';
    import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
    import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
    import { XMLHttpRequestInstrumentation } from '@opentelemetry/instrumentation-xml-http-request';
    import { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
    const provider = new WebTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'web', 'service.version': '1.0.0', 'deployment.environment.name': 'production' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: '/v1/traces' }))],
    });
    provider.register();
    registerInstrumentations({
      instrumentations: [new DocumentLoadInstrumentation(), new FetchInstrumentation(), new XMLHttpRequestInstrumentation()],
    });
    const tracer = provider.getTracer('web-vitals');
    for (const on of [onLCP, onINP, onCLS, onFCP, onTTFB]) {
      on((m) => tracer.startSpan('web_vital', { attributes: {
        'browser.web_vital.name': m.name.toLowerCase(), 'browser.web_vital.value': m.value, 'browser.web_vital.delta': m.delta, 'browser.web_vital.rating': m.rating,
        'browser.web_vital.id': m.id, 'browser.web_vital.navigation_type': m.navigationType } }).end());
    }
  `,
};

export async function measure() {
  const out = {};
  for (const [name, contents] of Object.entries(entries)) {
    const result = await build({
      stdin: { contents, resolveDir: join(here, '..'), loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0].contents;
    out[name] = { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await measure();
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(sizes, null, 2) + '\n');
  } else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    process.stdout.write('bundle (esbuild, minified, gzip -9)      minified    gzip\n');
    for (const [name, s] of Object.entries(sizes)) {
      process.stdout.write(`${name.padEnd(40)} ${kb(s.minified).padStart(9)} ${kb(s.gzip).padStart(8)}\n`);
    }
    process.stdout.write(`budget for the default setup: ${kb(BUDGET_BYTES)} gzip\n`);
  }
  if (sizes['web-otel default setup'].gzip > BUDGET_BYTES) {
    process.stderr.write('the default setup is over its budget\n');
    process.exit(1);
  }
}
