// navigator.sendBeacon to the exporter from another origin, in headless Chromium: a beacon is
// always sent in credentials mode "include", so the preflight of an allowed origin must answer
// Access-Control-Allow-Credentials (it did not: 0 spans arrived). An origin not on the allowlist
// still delivers nothing.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../exporter/test/support/databases.js';
import { startExporter, type RunningExporter } from '../../exporter/test/support/exporter.js';
import { jsonRequest, storedEvents } from '../../exporter/test/support/otlp.js';
import { CHROMIUM_ARGS, findChromium } from './chromium.js';

const browserPath = findChromium();

async function servePage(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>shop</title>'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe.skipIf(browserPath.skip !== undefined)(`sendBeacon from another origin${browserPath.skip ? ` (skipped: ${browserPath.skip})` : ''}`, () => {
  let db: TestDatabase;
  let exporter: RunningExporter;
  let shop: { server: Server; url: string };
  let stranger: { server: Server; url: string };
  let browser: Browser;

  beforeAll(async () => {
    [shop, stranger] = await Promise.all([servePage(), servePage()]);
    db = await createTestDatabase('pglite');
    exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', COLLECTORS: 'database', OTLP_CORS_ALLOWED_ORIGINS: shop.url });
    browser = await chromium.launch({ executablePath: browserPath.path, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await exporter?.stop();
    await db?.stop();
    for (const s of [shop, stranger]) s?.server.close();
  });

  const beacon = async (origin: string, page: string): Promise<boolean> => {
    const tab = await (await browser.newContext()).newPage();
    await tab.goto(origin);
    const body = JSON.stringify(jsonRequest([{ name: 'page_view', attributes: { page }, startMs: Date.now() - 100, endMs: Date.now() }]));
    const queued = await tab.evaluate(([url, json]) => navigator.sendBeacon(url, new Blob([json], { type: 'application/json' })), [`${exporter.url}/v1/traces`, body] as const);
    await tab.waitForTimeout(500);
    await tab.context().close();
    return queued;
  };

  it('delivers a beacon from an allowed origin, and none from another', async () => {
    expect(await beacon(shop.url, '/beacon-allowed')).toBe(true);
    expect(await beacon(stranger.url, '/beacon-stranger')).toBe(true); // queued by the browser, refused at the preflight
    const pages = async () => (await storedEvents(exporter.pool, `event_type = 'page_view'`)).map((e) => (e.event_data as { page?: string }).page);
    const deadline = Date.now() + 20_000;
    while (!(await pages()).includes('/beacon-allowed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await pages()).toEqual(['/beacon-allowed']);
  }, 60_000);
});
