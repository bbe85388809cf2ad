// End to end in headless Chromium: the example app, bundled, served with a same-origin /v1/traces
// proxied to a running exporter on the embedded database. The page navigates, fetches (one 500),
// clicks an action, throws, is hidden and then closed; /metrics must show all of it, including the
// action recorded just before the close, which only the pagehide flush can have sent.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../exporter/src/test/databases.js';
import { startExporter, type RunningExporter } from '../../exporter/src/test/exporter.js';
import { parseExposition } from '../../exporter/src/test/metrics.js';
import { CHROMIUM_ARGS, findChromium } from './chromium.js';

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'example');
const browserPath = findChromium();

interface Site {
  url: string;
  /** trace uploads the proxy passed on: when, and the exporter's answer */
  uploads: { at: number; status: number; bytes: number }[];
  close(): Promise<void>;
}

/** The example app and its API on one origin, /v1/traces proxied to the exporter. */
async function serveExample(exporterUrl: string): Promise<Site> {
  const bundle = await build({
    entryPoints: [join(exampleDir, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.contents;
  const html = await readFile(join(exampleDir, 'index.html'));
  const uploads: Site['uploads'] = [];
  const body = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/v1/traces') {
      const payload = await body(req);
      const upstream = await fetch(exporterUrl + '/v1/traces', {
        method: req.method ?? 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req.method === 'POST' ? new Uint8Array(payload) : undefined,
      });
      uploads.push({ at: Date.now(), status: upstream.status, bytes: payload.length });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } else if (path === '/main.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else if (path === '/api/menu') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":["margherita"]}');
    } else if (path === '/api/orders/42') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":42}');
    } else if (path === '/api/broken') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"broken on purpose"}');
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
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Scrapes until every wanted series has a value > 0 (new label sets show 0 on their first scrape). */
async function scrapeUntil(exporter: RunningExporter, wanted: RegExp[], timeoutMs = 20_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let series = new Map<string, number>();
  for (;;) {
    const res = await exporter.get('/metrics');
    series = parseExposition(res.body);
    const missing = wanted.filter((re) => ![...series].some(([name, value]) => re.test(name) && value > 0));
    if (missing.length === 0 || Date.now() > deadline) return series;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const valueOf = (series: Map<string, number>, re: RegExp): number =>
  [...series].filter(([name]) => re.test(name)).reduce((sum, [, v]) => sum + v, 0);

describe.skipIf(browserPath.skip !== undefined)(
  `web-otel in headless Chromium, into the exporter's /metrics${browserPath.skip ? ` (skipped: ${browserPath.skip})` : ''}`,
  () => {
    let db: TestDatabase;
    let exporter: RunningExporter;
    let site: Site;
    let browser: Browser;

    beforeAll(async () => {
      db = await createTestDatabase('pglite');
      exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', COLLECTORS: 'events' });
      await exporter.get('/metrics'); // the event cursor starts at the end of the (empty) table
      site = await serveExample(exporter.url);
      browser = await chromium.launch({ executablePath: browserPath.path, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      await site?.close();
      await exporter?.stop();
      await db?.stop();
    });

    it('counts page views, API latency, the error, web vitals and the actions, including the one sent at pagehide', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const warnings: string[] = [];
      page.on('console', (m) => {
        if (m.text().startsWith('web-otel:')) warnings.push(m.text()); // the library's own problems (?debug)
      });
      // Spans wait in the batch for a minute: only the hide and close flushes send them.
      await page.goto(`${site.url}/?batchDelayMs=60000&debug`, { waitUntil: 'load' });
      await page.waitForTimeout(600); // the late banner shifts the layout (CLS)

      await page.click('#add'); // a real, slow interaction: INP, and the add_to_cart action
      await page.click('a[href="/menu/pizza"]');
      await page.click('#load-menu');
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('menu: 200'));
      await page.click('#load-broken');
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('broken: 500'));
      await page.click('a[href="/orders/42"]');
      await page.click('#xhr-order');
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('order: 200'));
      await page.click('#crash');
      await page.waitForFunction(() => document.getElementById('log') !== null);
      await page.waitForTimeout(500); // the fetch spans end 300 ms after their responses
      expect(site.uploads).toHaveLength(0); // nothing left by the batch timer

      // The tab is hidden: web-vitals reports LCP, CLS and INP, and the library flushes.
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
      });
      await expect.poll(() => site.uploads.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(site.uploads.every((u) => u.status === 200 && u.bytes < 60_000)).toBe(true);

      // Visible again; an action right before the page closes can only leave with the pagehide flush.
      const hiddenUploads = site.uploads.length;
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
        (window as unknown as { observability: { recordUserAction(a: string): void } }).observability.recordUserAction('leave_page');
      });
      await page.close({ runBeforeUnload: true });
      await expect.poll(() => site.uploads.length, { timeout: 10_000 }).toBeGreaterThan(hiddenUploads);
      await context.close();

      const wanted = [
        /^cc_page_views_total\{page="\/",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_page_views_total\{page="\/menu\/:category",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_page_views_total\{page="\/orders\/:id",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_api_request_duration_seconds_count\{endpoint="\/api\/menu",method="GET",status_class="2xx",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_api_request_duration_seconds_count\{endpoint="\/api\/broken",method="GET",status_class="5xx",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_api_request_duration_seconds_count\{endpoint="\/api\/orders\/:id",method="GET",status_class="2xx",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_frontend_errors_total\{error_type="TypeError",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_web_vital_lcp_seconds_count\{/,
        /^cc_web_vital_cls_count\{/,
        /^cc_web_vital_fcp_seconds_count\{/,
        /^cc_web_vital_ttfb_seconds_count\{/,
        /^cc_web_vital_inp_seconds_count\{/,
        /^cc_user_actions_total\{action="add_to_cart",service="example-web",env="test",release="1.0.0"\}$/,
        /^cc_user_actions_total\{action="leave_page",service="example-web",env="test",release="1.0.0"\}$/,
      ];
      const series = await scrapeUntil(exporter, wanted);
      const missing = wanted.filter((re) => valueOf(series, re) === 0).map(String);
      expect(missing).toEqual([]);

      expect(valueOf(series, /^cc_page_views_total\{page="\/menu\/:category",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      expect(valueOf(series, /^cc_page_views_total\{page="\/orders\/:id",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      expect(valueOf(series, /^cc_api_request_duration_seconds_count\{endpoint="\/api\/broken",method="GET",status_class="5xx",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      expect(valueOf(series, /^cc_frontend_errors_total\{error_type="TypeError",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      expect(valueOf(series, /^cc_user_actions_total\{action="add_to_cart",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      expect(valueOf(series, /^cc_user_actions_total\{action="leave_page",service="example-web",env="test",release="1.0.0"\}$/)).toBe(1);
      // One sample per vital and page load; the export itself never became an API row.
      for (const vital of ['lcp_seconds', 'cls', 'fcp_seconds', 'ttfb_seconds', 'inp_seconds']) {
        expect(valueOf(series, new RegExp(`^cc_web_vital_${vital}_count\\{`)), vital).toBe(1);
      }
      expect(valueOf(series, /^cc_api_request_duration_seconds_count\{endpoint="\/v1\/traces"/)).toBe(0);
      expect(pageErrors).toEqual(['the example crashed on purpose']);
      expect(warnings).toEqual([]);
    });
  },
);
