// The edge functions' half, end to end in real processes: the example Stripe webhook function of
// edge/, wrapped by withTelemetry and served by real Deno (Deno.serve), handles signed webhook
// calls and sends its spans to a real exporter with the server token. Its timings reach the
// edge histogram in the real Prometheus, labelled with its service, environment and release; a
// failed payment makes PaymentFailures page by SMS through the real Alertmanager. With the
// exporter unreachable, or holding the upload without answering, the function still answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPaths } from '../../src/ops/stack/processes.js';
import { alertingStackSkip, eventually, paymentFailuresAtZero, startAlertingStack, type AlertingStack } from '../support/alerting-stack.js';

const DENO = join(repoPaths.root, 'node_modules/.bin/deno');
const noDeno = existsSync(DENO) ? undefined : 'the deno devDependency is not installed (npm ci)';
if (noDeno && process.env.CI === 'true') throw new Error(`CI: ${noDeno}`);
const skip = alertingStackSkip() ?? noDeno;
const TOKEN = randomBytes(24).toString('hex');
const STRIPE_SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const EXAMPLE = join(repoPaths.root, 'edge/examples/stripe-webhook/index.ts');
const SERVE = join(repoPaths.root, 'edge/examples/serve.ts');

interface EdgeFunction {
  url: string;
  output: string[];
  stop(): Promise<void>;
}

/** The example function in real Deno, sending to `endpoint`; resolves once it listens. */
async function startFunction(endpoint: string, extraEnv: Record<string, string> = {}): Promise<EdgeFunction> {
  const child: ChildProcess = spawn(DENO, ['run', '--quiet', '--allow-net', '--allow-env', SERVE, EXAMPLE], {
    cwd: repoPaths.root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DENO_NO_UPDATE_CHECK: '1',
      PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTLP_SERVER_TOKEN: TOKEN,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=production,service.version=1.9.1',
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`deno did not listen within 60 s: ${output.join('')}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`deno exited with ${code}: ${output.join('')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      try {
        const { listening } = JSON.parse(line) as { listening?: number };
        if (typeof listening === 'number') {
          clearTimeout(timer);
          resolve(listening);
        }
      } catch {
        // not the JSON line
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A Stripe webhook call, signed as Stripe signs them (v1: HMAC-SHA256 of "t.body"). */
function stripeEvent(type: string, object: Record<string, unknown>): RequestInit {
  const body = JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, type, data: { object } });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex');
  return { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${v1}` }, body };
}

const succeeded = () => stripeEvent('payment_intent.succeeded', { id: 'pi_ok', amount: 2350, metadata: { order_id: 'o-ok' } });
const failed = () =>
  stripeEvent('payment_intent.payment_failed', { id: 'pi_bad', amount: 1850, metadata: { order_id: 'o-42' }, last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' } });

describe.skipIf(skip !== undefined)(`edge functions end to end${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: AlertingStack;
  let fn: EdgeFunction;
  const others: EdgeFunction[] = [];
  let holder: Server | undefined;

  beforeAll(async () => {
    stack = await startAlertingStack({ env: { OTLP_SERVER_TOKEN: TOKEN } });
    await paymentFailuresAtZero(stack);
    fn = await startFunction(stack.exporter.url);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([fn?.stop(), ...others.map((o) => o.stop())]);
    holder?.closeAllConnections();
    holder?.close();
    await stack?.stop();
  }, 60_000);

  it('timings reach the edge histogram with service, environment and release; a failed payment pages by SMS', async () => {
    for (let i = 0; i < 5; i++) expect((await fetch(`${fn.url}/`, succeeded())).status).toBe(200);
    const unsigned = await fetch(`${fn.url}/`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(400);
    const failedAt = Date.now();
    expect((await fetch(`${fn.url}/`, failed())).status).toBe(200);

    const labels = 'function="stripe-webhook", service="edge-functions", env="production", release="1.9.1"';
    const calls = await eventually(async () => {
      const result = await stack.query(`sum(cc_edge_function_duration_seconds_count{${labels}})`);
      return result[0]?.value[1] === '7' ? result : undefined;
    }, 60_000, 'seven edge-function calls in Prometheus');
    expect(calls).toHaveLength(1);
    // the unsigned call answered 400: a client error, not the function failing
    expect((await stack.query(`sum(cc_edge_function_duration_seconds_count{${labels}, status="error"})`))[0]?.value[1] ?? '0').toBe('0');
    const { rows } = await stack.exporter.pool.query(`SELECT event_data FROM runtime_metrics WHERE event_type = 'payment_failure'`);
    expect(rows.map((r) => r.event_data)).toEqual([
      { provider: 'stripe', reason: 'insufficient_funds', order_id: 'o-42', amount: 18.5, service: 'edge-functions', env: 'production', release: '1.9.1' },
    ]);
    const sms = await stack.twilio.waitFor((m) => m.body.startsWith('FIRING PaymentFailures'), 90_000, 'the PaymentFailures SMS');
    process.stdout.write(`\nedge e2e: failed payment to SMS in ${((sms.at - failedAt) / 1000).toFixed(1)} s\n`);
    expect(sms.value.body).toMatch(/^FIRING PaymentFailures critical: About 1 payment failures in the last 5 minutes\./);
    expect(fn.output.join('')).not.toContain(TOKEN);
  }, 180_000);

  it('with the exporter unreachable, or holding the upload and never answering, the function still answers at once', async () => {
    // Nothing listens on a port just closed; a server that takes the upload and never answers.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    let uploadsHeld = 0;
    holder = createServer(() => void uploadsHeld++);
    await new Promise<void>((resolve) => holder!.listen(0, '127.0.0.1', resolve));

    // A response that waited on the upload would wait 120 s (the export timeout here); the caller gives up at 20 s.
    const slowExport = { OTEL_EXPORTER_OTLP_TIMEOUT: '120000' };
    const down = await startFunction(`http://127.0.0.1:${closedPort}`, slowExport);
    const held = await startFunction(`http://127.0.0.1:${(holder.address() as AddressInfo).port}`, slowExport);
    others.push(down, held);
    for (const target of [down, held]) {
      const started = Date.now();
      const res = await fetch(`${target.url}/`, { ...failed(), signal: AbortSignal.timeout(20_000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: true });
      process.stdout.write(`edge e2e: answered in ${Date.now() - started} ms with the exporter ${target === down ? 'unreachable' : 'holding the upload'}\n`);
    }
    // The held upload did arrive, and is still unanswered: the answer never waited for it.
    await eventually(async () => (uploadsHeld > 0 ? true : undefined), 30_000, 'the upload at the holding server');
  }, 120_000);
});
