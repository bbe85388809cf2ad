// The site the browser tests load: the example app (bundled with esbuild) and its API on one origin,
// a page with the official OpenTelemetry JS SDK and OTLP/HTTP exporter, and /v1/traces (the
// library's) and /official/v1/traces (the official client's) proxied to a running exporter. Every
// upload is kept as the raw bytes the browser sent, to be decoded and searched.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webOtelDir = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface Upload {
  at: number;
  /** `/v1/traces` (web-otel) or `/official/v1/traces` (the official exporter) */
  path: string;
  /** the exporter's answer */
  status: number;
  bytes: number;
  /** the body as the browser sent it */
  body: string;
}

export interface Site {
  url: string;
  uploads: Upload[];
  /** API paths requested so far, in order */
  calls: string[];
  close(): Promise<void>;
}

/** The official OpenTelemetry web setup, as an app would write it: its own provider, exporter and fetch instrumentation. */
const OFFICIAL_ENTRY = `
  import { WebTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-web';
  import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
  import { resourceFromAttributes } from '@opentelemetry/resources';
  import { registerInstrumentations } from '@opentelemetry/instrumentation';
  import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'official-web', 'service.version': '2.0.0', 'deployment.environment.name': 'test' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: '/official/v1/traces' }))],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new FetchInstrumentation()] });
  const tracer = provider.getTracer('official-client');
  tracer.startSpan('page_view', { attributes: { 'url.template': '/official' } }).end();
  tracer.startSpan('user_action', { attributes: { 'user.action': 'official_action' } }).end();
  (async () => {
    await fetch('/api/menu');
    await new Promise((r) => setTimeout(r, 1500)); // the fetch span ends 300 ms after the response
    await provider.forceFlush();
    window.officialDone = true;
  })();
`;

async function bundle(options: { entry: string } | { stdin: string }): Promise<Uint8Array> {
  const result = await build({
    ...('entry' in options ? { entryPoints: [options.entry] } : { stdin: { contents: options.stdin, resolveDir: webOtelDir, loader: 'ts', sourcefile: 'official.ts' } }),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.contents;
}

export async function serveSite(exporterUrl: string): Promise<Site> {
  const [exampleJs, officialJs, html] = await Promise.all([
    bundle({ entry: join(webOtelDir, 'example', 'main.ts') }),
    bundle({ stdin: OFFICIAL_ENTRY }),
    readFile(join(webOtelDir, 'example', 'index.html')),
  ]);
  const uploads: Upload[] = [];
  const calls: string[] = [];
  const hanging = new Set<ServerResponse>();
  const read = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/v1/traces' || path === '/official/v1/traces') {
      const payload = await read(req);
      const upstream = await fetch(exporterUrl + '/v1/traces', {
        method: req.method ?? 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req.method === 'POST' ? new Uint8Array(payload) : undefined,
      });
      uploads.push({ at: Date.now(), path, status: upstream.status, bytes: payload.length, body: payload.toString('utf8') });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
      return;
    }
    if (path.startsWith('/api/')) calls.push(path);
    if (path === '/main.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(exampleJs);
    } else if (path === '/official.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(officialJs);
    } else if (path === '/official') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>official</title><script type="module" src="/official.js"></script>');
    } else if (path === '/blank') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>blank</title>');
    } else if (path === '/api/menu') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":["margherita"]}');
    } else if (path === '/api/orders/42') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":42}');
    } else if (path === '/api/broken') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"broken on purpose"}');
    } else if (path === '/api/slow') {
      const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'), Number(url.searchParams.get('ms')) || 3000);
      res.on('close', () => clearTimeout(timer));
    } else if (path === '/api/hang') {
      hanging.add(res); // never answered; the page closes first
      res.on('close', () => hanging.delete(res));
    } else if (path === '/favicon.ico') {
      res.writeHead(404).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html); // the SPA's routes
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(502).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    uploads,
    calls,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A span of an OTLP/HTTP JSON request, attributes as plain values, with its resource and scope. */
export interface SentSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code?: number; message?: string };
  resource: Record<string, unknown>;
  scope: string;
}

type JsonKeyValue = { key: string; value: Record<string, unknown> };
interface JsonRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        name: string;
        kind: number;
        traceId: string;
        spanId: string;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: JsonKeyValue[];
        events?: { name: string; attributes?: JsonKeyValue[] }[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

function anyValue(v: Record<string, unknown>): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return undefined;
}

const plain = (kvs: JsonKeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
const nanosToMs = (n: string | number): number => Number(BigInt(n) / 1000n) / 1000;

/** Every span of an OTLP/HTTP JSON body. */
export function decodeOtlpJson(body: string): SentSpan[] {
  const request = JSON.parse(body) as JsonRequest;
  return (request.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        name: s.name,
        kind: s.kind,
        traceId: s.traceId,
        spanId: s.spanId,
        startMs: nanosToMs(s.startTimeUnixNano),
        endMs: nanosToMs(s.endTimeUnixNano),
        attributes: plain(s.attributes),
        events: (s.events ?? []).map((e) => ({ name: e.name, attributes: plain(e.attributes) })),
        status: s.status ?? {},
        resource: plain(rs.resource?.attributes),
        scope: ss.scope?.name ?? '',
      })),
    ),
  );
}

/** Every span the site received at `path` (default: the library's /v1/traces), uploads the exporter refused included. */
export function sentSpans(site: Site, path = '/v1/traces', from = 0): SentSpan[] {
  return site.uploads.slice(from).filter((u) => u.path === path).flatMap((u) => decodeOtlpJson(u.body));
}
