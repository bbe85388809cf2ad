// End to end in headless Chromium: the example app, bundled, served with a same-origin /v1/traces
// proxied to a running exporter on the embedded database; every request body the browser sent is
// kept and decoded. The page navigates, fetches (one 500), clicks an action, throws, is hidden and
// then closed; /metrics must show all of it, each web vital on the route it was measured on. Then:
// a slow call outlives a hidden tab and one still pending at close arrives as aborted; hash routes
// make page views; a tab opened with window.open gets its own session; the official OpenTelemetry
// JS exporter, as a second client, is counted too; 200 large spans queued at close arrive errors and
// vitals first, in requests under the keepalive limit; and no query string, e-mail address or
// numeric id leaves the browser, whatever the page did.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../exporter/test/support/databases.js';
import { startExporter, type RunningExporter } from '../../exporter/test/support/exporter.js';
import { parseExposition } from '../../exporter/test/support/metrics.js';
import { CHROMIUM_ARGS, findChromium } from './chromium.js';
import { decodeOtlpJson, sentSpans, serveSite, type SentSpan, type Site } from './site.js';

const browserPath = findChromium();
const DIMS = 'service="example-web",env="test",release="1.0.0"';
/** attributes that hold a URL or a path */
const URL_KEYS = ['url.full', 'http.url', 'url.path', 'url.template', 'page', 'location.href', 'document.referrer', 'browser.web_vital.attribution.url'];

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

/** Polls `fn` until it returns something truthy (or the deadline: then its last value). */
async function until<T>(fn: () => T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = fn();
  while (!value && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = fn();
  }
  return value;
}

/** Waits until no upload has arrived for `quietMs` (the browser is done sending), at most `timeoutMs`. */
async function settled(site: Site, quietMs = 2_000, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const last = site.uploads.at(-1)?.at ?? 0;
    if (Date.now() - last >= quietMs) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The tab is hidden, as a tab switch does (Chromium keeps a background page visible to scripts in headless mode). */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  }, state);
}

const sessionOf = (page: Page): Promise<string> => page.evaluate(() => (window as unknown as { observability: { sessionId: string } }).observability.sessionId);

describe.skipIf(browserPath.skip !== undefined)(
  `web-otel in headless Chromium, into the exporter's /metrics${browserPath.skip ? ` (skipped: ${browserPath.skip})` : ''}`,
  () => {
    let db: TestDatabase;
    let exporter: RunningExporter;
    let site: Site;
    let browser: Browser;
    const contexts: BrowserContext[] = [];
    const newPage = async (): Promise<Page> => {
      const context = await browser.newContext();
      contexts.push(context);
      return context.newPage();
    };

    beforeAll(async () => {
      db = await createTestDatabase('pglite');
      exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', COLLECTORS: 'events' });
      await exporter.get('/metrics'); // the event cursor starts at the end of the (empty) table
      site = await serveSite(exporter.url);
      browser = await chromium.launch({ executablePath: browserPath.path, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      for (const c of contexts) await c.close().catch(() => {});
      await browser?.close();
      await site?.close();
      await exporter?.stop();
      await db?.stop();
    });

    it('counts page views, API latency, the error, web vitals on the route they were measured on, and the actions, including the one sent at pagehide', async () => {
      const page = await newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const warnings: string[] = [];
      page.on('console', (m) => {
        if (m.text().startsWith('web-otel:')) warnings.push(m.text()); // the library's own problems (?debug)
      });
      // Spans wait in the batch for a minute: only the hide and close flushes send them.
      await page.goto(`${site.url}/?batchDelayMs=60000&debug`, { waitUntil: 'load' });
      await page.waitForTimeout(600); // the late banner shifts the layout on / (CLS)

      await page.click('#add'); // a real, slow interaction on /: INP, and the add_to_cart action
      await page.click('a[href="/menu/pizza"]'); // then off to another route before anything is reported
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
      await setVisibility(page, 'hidden');
      await expect.poll(() => site.uploads.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(site.uploads.every((u) => u.status === 200 && u.bytes < 60_000)).toBe(true);

      // Visible again; an action right before the page closes can only leave with the pagehide flush.
      const hiddenUploads = site.uploads.length;
      await setVisibility(page, 'visible');
      await page.evaluate(() => (window as unknown as { observability: { recordUserAction(a: string): void } }).observability.recordUserAction('leave_page'));
      await page.close({ runBeforeUnload: true });
      await expect.poll(() => site.uploads.length, { timeout: 10_000 }).toBeGreaterThan(hiddenUploads);

      // What left the browser: current semantic-convention names, each vital on its route.
      const spans = await until(() => {
        const all = sentSpans(site);
        return all.some((s) => s.attributes['user.action'] === 'leave_page') && all;
      });
      expect(spans).not.toBe(false);
      const sent = spans as SentSpan[];
      expect(sent[0]?.resource).toMatchObject({ 'service.name': 'example-web', 'service.version': '1.0.0', 'deployment.environment.name': 'test' });
      expect(sent[0]?.resource).not.toHaveProperty('deployment.environment');
      const vitals: Record<string, Record<string, unknown>> = Object.fromEntries(sent.filter((s) => s.name === 'web_vital').map((s) => [String(s.attributes['browser.web_vital.name']), s.attributes]));
      expect(Object.keys(vitals).sort()).toEqual(['cls', 'fcp', 'inp', 'lcp', 'ttfb']);
      for (const [name, a] of Object.entries(vitals)) {
        // INP: the interaction was on /, the report came on /orders/:id; CLS: the banner shifted /; the rest: the landing route.
        expect([name, a['url.template'], a.page], name).toEqual([name, '/', '/']);
        expect(typeof a['browser.web_vital.delta'], name).toBe('number');
        expect(a['browser.web_vital.id'], name).toMatch(/^v6-/); // web-vitals 6 ids
      }
      expect(sent.filter((s) => s.name === 'route_change').map((s) => s.attributes['url.template'])).toEqual(['/menu/:category', '/orders/:id']);

      const wanted = [
        new RegExp(`^cc_page_views_total\\{page="/",${DIMS}\\}$`),
        new RegExp(`^cc_page_views_total\\{page="/menu/:category",${DIMS}\\}$`),
        new RegExp(`^cc_page_views_total\\{page="/orders/:id",${DIMS}\\}$`),
        new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/menu",method="GET",status_class="2xx",${DIMS}\\}$`),
        new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/broken",method="GET",status_class="5xx",${DIMS}\\}$`),
        new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/orders/:id",method="GET",status_class="2xx",${DIMS}\\}$`),
        new RegExp(`^cc_frontend_errors_total\\{error_type="TypeError",${DIMS}\\}$`),
        ...['lcp_seconds', 'cls', 'fcp_seconds', 'ttfb_seconds', 'inp_seconds'].map((v) => new RegExp(`^cc_web_vital_${v}_count\\{page="/",rating="[a-z-]+",${DIMS}\\}$`)),
        new RegExp(`^cc_user_actions_total\\{action="add_to_cart",${DIMS}\\}$`),
        new RegExp(`^cc_user_actions_total\\{action="leave_page",${DIMS}\\}$`),
      ];
      const series = await scrapeUntil(exporter, wanted);
      const missing = wanted.filter((re) => valueOf(series, re) === 0).map(String);
      expect(missing).toEqual([]);

      expect(valueOf(series, new RegExp(`^cc_page_views_total\\{page="/menu/:category",${DIMS}\\}$`))).toBe(1);
      expect(valueOf(series, new RegExp(`^cc_page_views_total\\{page="/orders/:id",${DIMS}\\}$`))).toBe(1);
      expect(valueOf(series, new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/broken",method="GET",status_class="5xx",${DIMS}\\}$`))).toBe(1);
      expect(valueOf(series, new RegExp(`^cc_frontend_errors_total\\{error_type="TypeError",${DIMS}\\}$`))).toBe(1);
      expect(valueOf(series, new RegExp(`^cc_user_actions_total\\{action="add_to_cart",${DIMS}\\}$`))).toBe(1);
      expect(valueOf(series, new RegExp(`^cc_user_actions_total\\{action="leave_page",${DIMS}\\}$`))).toBe(1);
      // One sample per vital and page load, all on /; the export itself never became an API row.
      for (const vital of ['lcp_seconds', 'cls', 'fcp_seconds', 'ttfb_seconds', 'inp_seconds']) {
        expect(valueOf(series, new RegExp(`^cc_web_vital_${vital}_count\\{`)), vital).toBe(1);
        expect(valueOf(series, new RegExp(`^cc_web_vital_${vital}_count\\{page="/",`)), vital).toBe(1);
      }
      expect(valueOf(series, /^cc_api_request_duration_seconds_count\{endpoint="\/v1\/traces"/)).toBe(0);
      expect(pageErrors).toEqual(['the example crashed on purpose']);
      expect(warnings).toEqual([]);
    });

    it('measures a slow call that answers while the tab is hidden, and sends a call still pending at close as aborted', async () => {
      const page = await newPage();
      await page.goto(`${site.url}/?batchDelayMs=60000`, { waitUntil: 'load' });
      const before = site.uploads.length;
      await page.click('#slow'); // answered after 3 s
      await page.click('#hang'); // never answered
      await until(() => site.calls.includes('/api/slow') && site.calls.includes('/api/hang'));

      await setVisibility(page, 'hidden');
      await expect.poll(() => site.uploads.length, { timeout: 10_000 }).toBeGreaterThan(before);
      const atHide = site.uploads.length;
      // Hidden sends what is finished; the two calls in flight are neither ended nor dropped.
      expect(sentSpans(site, '/v1/traces', before).filter((s) => s.kind === 3)).toEqual([]);

      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('slow: 200'), undefined, { timeout: 20_000 });
      await page.waitForTimeout(1_500); // the fetch span ends 300 ms after the response
      await page.close({ runBeforeUnload: true });
      const calls = await until(() => {
        const found = sentSpans(site, '/v1/traces', atHide).filter((s) => s.name === 'GET /api/slow' || s.name === 'GET /api/hang');
        return found.length === 2 && found;
      });
      expect(calls).not.toBe(false);
      const slow = (calls as SentSpan[]).find((s) => s.name === 'GET /api/slow')!;
      const hang = (calls as SentSpan[]).find((s) => s.name === 'GET /api/hang')!;
      expect(slow.attributes['http.response.status_code']).toBe(200);
      expect(slow.attributes['error.type']).toBeUndefined();
      expect(slow.endMs - slow.startMs).toBeGreaterThanOrEqual(2_900); // the server held it 3 s
      expect(hang.attributes['error.type']).toBe('aborted_by_unload');
      expect(hang.attributes['http.response.status_code']).toBeUndefined();
      expect(hang.status.code ?? 0).not.toBe(2); // not a failure
      expect(hang.attributes['url.full']).toBe(`${site.url}/api/hang`);

      const slowSeries = new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/slow",method="GET",status_class="2xx",${DIMS}\\}$`);
      const hangSeries = new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/hang",method="GET",status_class="aborted",${DIMS}\\}$`);
      const series = await scrapeUntil(exporter, [slowSeries, hangSeries]);
      expect(valueOf(series, slowSeries)).toBe(1);
      expect(valueOf(series, hangSeries)).toBe(1);
      expect(valueOf(series, /^cc_api_request_duration_seconds_count\{endpoint="\/api\/hang",method="GET",status_class="network"/)).toBe(0);
      expect(valueOf(series, new RegExp(`^cc_api_request_duration_seconds_sum\\{endpoint="/api/slow",method="GET",status_class="2xx",${DIMS}\\}$`))).toBeGreaterThanOrEqual(2.9);
    });

    it('makes page views of hash routes, and gives a tab opened with window.open its own session', async () => {
      const page = await newPage();
      await page.goto(`${site.url}/?batchDelayMs=60000`, { waitUntil: 'load' });
      const opener = await sessionOf(page);
      const from = site.uploads.length;
      await page.click('#hash-order'); // <a href="#/orders/7">
      await page.waitForFunction(() => document.getElementById('view')?.textContent?.includes('/orders/:id'));
      await page.evaluate(() => void (location.hash = '#/menu/pasta'));
      await page.waitForFunction(() => document.getElementById('view')?.textContent?.includes('/menu/:category'));

      // Chromium copies sessionStorage into a tab opened with window.open: the opener's session is there…
      const [popup] = await Promise.all([page.context().waitForEvent('page'), page.evaluate(() => void window.open('/blank'))]);
      await popup.waitForLoadState('load');
      expect(await popup.evaluate(() => sessionStorage.getItem('cc_otel_session'))).toContain(opener);
      // …but the library in that tab starts its own, and keeps it across the tab's next pages.
      await popup.goto(`${site.url}/?batchDelayMs=60000`, { waitUntil: 'load' });
      const opened = await sessionOf(popup);
      expect(opened).toMatch(/^[0-9a-f]{32}$/);
      expect(opened).not.toBe(opener);
      await popup.reload({ waitUntil: 'load' });
      expect(await sessionOf(popup)).toBe(opened);
      await page.reload({ waitUntil: 'load' });
      expect(await sessionOf(page)).toBe(opener);
      await popup.close({ runBeforeUnload: true });
      await page.close({ runBeforeUnload: true });

      const spans = await until(() => {
        const all = sentSpans(site, '/v1/traces', from);
        const loads = all.filter((s) => s.name === 'documentLoad').map((s) => s.attributes['session.id']);
        const done = loads.filter((id) => id === opened).length >= 2 && loads.filter((id) => id === opener).length >= 2;
        return done && all.filter((s) => s.name === 'route_change').length >= 2 && all;
      });
      expect(spans).not.toBe(false);
      const hashViews = (spans as SentSpan[]).filter((s) => s.name === 'route_change').map((s) => [s.attributes['url.template'], s.attributes['session.id']]);
      expect(hashViews).toEqual([
        ['/orders/:id', opener],
        ['/menu/:category', opener],
      ]);
      const loads = (spans as SentSpan[]).filter((s) => s.name === 'documentLoad').map((s) => s.attributes['session.id']);
      expect(loads.filter((id) => id === opened)).toHaveLength(2); // the popup's page and its reload
      expect(loads.filter((id) => id === opener)).toHaveLength(2); // the opener's page and its reload
    });

    it("counts the official OpenTelemetry JS exporter's spans too, as a second client of the same receiver", async () => {
      const page = await newPage();
      await page.goto(`${site.url}/official`, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { officialDone?: boolean }).officialDone === true, undefined, { timeout: 20_000 });
      const spans = await until(() => {
        const all = sentSpans(site, '/official/v1/traces');
        return all.length >= 3 && all;
      });
      expect(spans).not.toBe(false);
      const official = spans as SentSpan[];
      expect(site.uploads.filter((u) => u.path === '/official/v1/traces').every((u) => u.status === 200)).toBe(true);
      expect(official.map((s) => s.scope).sort()).toEqual(['@opentelemetry/instrumentation-fetch', 'official-client', 'official-client']);
      expect(official[0]?.resource).toMatchObject({ 'service.name': 'official-web', 'deployment.environment.name': 'test' });

      const dims = 'service="official-web",env="test",release="2.0.0"';
      const wanted = [
        new RegExp(`^cc_page_views_total\\{page="/official",${dims}\\}$`),
        new RegExp(`^cc_user_actions_total\\{action="official_action",${dims}\\}$`),
        new RegExp(`^cc_api_request_duration_seconds_count\\{endpoint="/api/menu",method="GET",status_class="2xx",${dims}\\}$`),
      ];
      const series = await scrapeUntil(exporter, wanted);
      expect(wanted.map((re) => valueOf(series, re))).toEqual([1, 1, 1]);
      await page.close();
      // eslint-disable-next-line no-console -- the figure the test reports
      console.log(`official OpenTelemetry JS exporter: ${official.length} spans sent, ${wanted.length} series counted`);
    });

    it('sends 200 large spans queued at close errors first, then web vitals, in requests under 64 KB (keepalive within the quota, the rest as the browser allows)', async () => {
      const N = 200;
      const page = await newPage();
      await page.goto(`${site.url}/?batchDelayMs=600000&maxBatchSize=1000`, { waitUntil: 'load' });
      await page.waitForTimeout(500);
      const from = site.uploads.length;
      // 20 errors, 5 web vitals and 175 other spans of about 2 KB each (~400 KB): far over the 64 KB keepalive
      // quota, which Chromium applies to beacons too; past it only plain fetches are left, which may or may not
      // leave before the page is torn down. How many arrive is printed, not asserted; the errors and vitals must.
      await page.evaluate((n) => {
        const { tracer } = (window as unknown as { observability: { tracer: import('@opentelemetry/api').Tracer } }).observability;
        for (let i = 0; i < n; i++) {
          const kind = i % 10 === 3 ? 'error' : i % 40 === 7 ? 'vital' : 'plain';
          const attributes: Record<string, string | number> = { 'close.n': i, 'close.kind': kind, pad: 'x'.repeat(1_800) };
          if (kind === 'vital') Object.assign(attributes, { 'browser.web_vital.name': 'lcp', 'browser.web_vital.value': 1_000 + i, 'browser.web_vital.rating': 'good', 'url.template': '/close' });
          const span = tracer.startSpan(kind === 'error' ? 'exception' : kind === 'vital' ? 'web_vital' : 'work', { attributes });
          if (kind === 'error') {
            span.addEvent('exception', { 'exception.type': 'CloseTestError', 'exception.message': `error ${i}` });
            span.setStatus({ code: 2, message: `error ${i}` });
          }
          span.end();
        }
      }, N);
      expect(site.uploads.slice(from).filter((u) => u.path === '/v1/traces')).toHaveLength(0); // all of it still queued
      await page.close({ runBeforeUnload: true });
      await until(() => site.uploads.length > from);
      await settled(site);

      const uploads = site.uploads.slice(from).filter((u) => u.path === '/v1/traces');
      const spans = uploads.filter((u) => u.status === 200).flatMap((u) => decodeOtlpJson(u.body)).filter((s) => s.attributes['close.n'] !== undefined);
      const arrived = new Set(spans.map((s) => s.attributes['close.n']));
      const count = (kind: string) => new Set(spans.filter((s) => s.attributes['close.kind'] === kind).map((s) => s.attributes['close.n'])).size;
      const largest = Math.max(...uploads.map((u) => u.bytes));
      // eslint-disable-next-line no-console -- the figure the test reports
      console.log(
        `delivery at close: ${arrived.size} of ${N} spans arrived (errors ${count('error')}/20, web vitals ${count('vital')}/5, others ${count('plain')}/175) ` +
          `in ${uploads.length} requests, largest body ${largest} bytes`,
      );
      expect(count('error')).toBe(20);
      expect(count('vital')).toBe(5);
      for (const u of uploads) expect(u.bytes).toBeLessThanOrEqual(60_000); // each well under the 64 KB keepalive limit
      expect(largest).toBeLessThan(64 * 1024);
    });

    it('lets no query string, e-mail address or numeric id leave the browser: every body the receiver got, decoded and searched', async () => {
      const page = await newPage();
      const from = site.uploads.length;
      // A landing URL, a referrer and an XHR full of personal data (the XHR sends ?email=…&token=…).
      await page.goto(`${site.url}/orders/918273645?email=bob%40example.com&batchDelayMs=60000#frag`, {
        waitUntil: 'load',
        referer: `${site.url}/account/bob@example.com?token=s3cr3t`,
      });
      await page.click('#xhr-order');
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('order: 200'));
      await page.click('#crash');
      await page.waitForTimeout(500);
      await page.close({ runBeforeUnload: true });
      const xhr = await until(() => sentSpans(site, '/v1/traces', from).find((s) => s.scope === '@opentelemetry/instrumentation-xml-http-request'));
      expect(xhr).toBeTruthy();
      await settled(site);

      const bodies = site.uploads.filter((u) => u.path === '/v1/traces');
      expect(bodies.length).toBeGreaterThan(10); // every test's uploads, this one's included
      for (const { body } of bodies) {
        expect(body).not.toMatch(/bob|example\.com|%40|[\w.+-]@|s3cr3t|token|email|batchDelayMs|918273645/); // (scope names start with @)
        expect(body).not.toMatch(/\/\d+(?=[/?#"])/); // no numeric path segment anywhere
        for (const span of decodeOtlpJson(body)) {
          for (const attributes of [span.attributes, span.resource, ...span.events.map((e) => e.attributes)]) {
            for (const key of URL_KEYS) {
              const value = attributes[key];
              if (typeof value === 'string') expect(value, `${span.name} ${key}`).not.toMatch(/[?#]/);
            }
          }
        }
      }
      const order = sentSpans(site).filter((s) => s.name === 'GET /api/orders/:id');
      expect(order.length).toBeGreaterThanOrEqual(2);
      for (const s of order) expect(s.attributes['url.full']).toBe(`${site.url}/api/orders/:id`);
      const landing = sentSpans(site).filter((s) => s.name === 'documentLoad' && s.attributes['url.template'] === '/orders/:id');
      expect(landing.length).toBeGreaterThanOrEqual(1);
      expect(landing.map((s) => s.attributes['url.full'])).toContain(`${site.url}/orders/:id`); // document-load 0.68: url.full, no http.url
    });
  },
);
