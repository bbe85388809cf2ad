import { flush } from './mod.ts';
import { handler, hmacSha256Hex, verifyStripeSignature } from './examples/stripe-webhook/index.ts';
import { assert, assertEquals, attr, attrs, captureWarnings, type Receiver, setup, startReceiver, TOKEN } from './test_helpers.ts';

const SECRET = 'whsec_test_0123456789';

function paymentFailed(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'evt_1',
    type: 'payment_intent.payment_failed',
    data: {
      object: {
        id: 'pi_1',
        amount: 1250,
        currency: 'usd',
        metadata: { order_id: 'ord_42' },
        last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
        ...overrides,
      },
    },
  });
}

async function signature(body: string, { secret = SECRET, t = Math.floor(Date.now() / 1000) } = {}): Promise<string> {
  return `t=${t},v1=${await hmacSha256Hex(secret, `${t}.${body}`)}`;
}

function post(body: string, sig?: string): Request {
  return new Request('https://project.supabase.co/functions/v1/stripe-webhook', {
    method: 'POST',
    body,
    headers: sig === undefined ? {} : { 'Stripe-Signature': sig },
  });
}

async function withStripe(fn: (receiver: Receiver) => Promise<void>): Promise<void> {
  const receiver = await startReceiver();
  const warnings = captureWarnings();
  Deno.env.set('STRIPE_WEBHOOK_SECRET', SECRET);
  try {
    setup({ endpoint: receiver.url, token: TOKEN });
    await fn(receiver);
    assertEquals(warnings.messages, []);
  } finally {
    await flush();
    warnings.restore();
    Deno.env.delete('STRIPE_WEBHOOK_SECRET');
    await receiver.close();
  }
}

Deno.test('stripe-webhook: a signed payment_intent.payment_failed records a payment_failure event on the request span', async () => {
  await withStripe(async (receiver) => {
    const body = paymentFailed();
    const res = await handler(post(body, await signature(body)));
    assertEquals(res.status, 200);
    assertEquals(await res.json(), { received: true });
    await flush();

    const spans = receiver.spans();
    assertEquals(spans.length, 1);
    const span = spans[0]!;
    assertEquals(span.name, 'stripe-webhook');
    assertEquals(span.kind, 2);
    assertEquals(attr(span.attributes, 'faas.name'), { stringValue: 'stripe-webhook' });
    assertEquals(attr(span.attributes, 'http.response.status_code'), { intValue: '200' });
    assertEquals(span.events.length, 1);
    assertEquals(span.events[0]!.name, 'payment_failure');
    assertEquals(attrs(span.events[0]!.attributes), {
      'payment.provider': { stringValue: 'stripe' },
      'payment.failure_reason': { stringValue: 'insufficient_funds' },
      'order.id': { stringValue: 'ord_42' },
      'payment.amount': { doubleValue: 12.5 },
    });
    // Nothing else from the body (the customer-facing message, ids) is sent.
    assert(!receiver.requests[0]!.text.includes('insufficient funds.') && !receiver.requests[0]!.text.includes('pi_1'));
  });
});

Deno.test('stripe-webhook: the reason falls back to the error code, then unknown', async () => {
  await withStripe(async (receiver) => {
    for (const error of [{ code: 'expired_card' }, undefined]) {
      const body = paymentFailed({ last_payment_error: error, metadata: {} });
      assertEquals((await handler(post(body, await signature(body)))).status, 200);
    }
    await flush();
    const events = receiver.spans().map((s) => attrs(s.events[0]!.attributes));
    assertEquals(events.map((e) => e['payment.failure_reason']), [{ stringValue: 'expired_card' }, { stringValue: 'unknown' }]);
    assertEquals(events.map((e) => e['order.id']), [undefined, undefined]);
  });
});

Deno.test('stripe-webhook: a bad or missing signature is a 400 and records no payment event', async () => {
  await withStripe(async (receiver) => {
    const body = paymentFailed();
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      undefined, // no header
      await signature(body, { secret: 'whsec_wrong' }),
      await signature(body, { t: now - 301 }), // too old
      await signature(`${body} `), // another body
      (await signature(body)).replace(/v1=/, 'v0='), // no v1
      'garbage',
    ];
    for (const sig of bad) {
      const res = await handler(post(body, sig));
      assertEquals(res.status, 400, `signature ${sig}`);
      await res.body?.cancel();
    }
    await flush();
    const spans = receiver.spans();
    assertEquals(spans.length, bad.length);
    for (const span of spans) {
      assertEquals(span.events, []);
      assertEquals(attr(span.attributes, 'http.response.status_code'), { intValue: '400' });
    }
  });
});

Deno.test('stripe-webhook: other verified events are acknowledged without a payment event; no secret is a 500', async () => {
  await withStripe(async (receiver) => {
    const body = JSON.stringify({ id: 'evt_2', type: 'payment_intent.succeeded', data: { object: { amount: 100 } } });
    const res = await handler(post(body, await signature(body)));
    assertEquals(res.status, 200);
    assertEquals(await res.json(), { received: true });
    Deno.env.delete('STRIPE_WEBHOOK_SECRET');
    const unset = await handler(post(body, await signature(body)));
    assertEquals(unset.status, 500);
    await unset.body?.cancel();
    await flush();
    const spans = receiver.spans();
    assertEquals(spans.map((s) => s.events.length), [0, 0]);
    assertEquals(spans.map((s) => attr(s.attributes, 'http.response.status_code')), [{ intValue: '200' }, { intValue: '500' }]);
  });
});

Deno.test('verifyStripeSignature: any v1 may match (secret rotation), the tolerance applies both ways', async () => {
  const body = '{"id":"evt"}';
  const t = 1_700_000_000;
  const good = await hmacSha256Hex(SECRET, `${t}.${body}`);
  // A known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
  assertEquals(await hmacSha256Hex('key', 'The quick brown fox jumps over the lazy dog'), 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  assertEquals(await verifyStripeSignature(body, `t=${t},v1=${'0'.repeat(64)},v1=${good}`, SECRET, { nowSeconds: t }), true);
  assertEquals(await verifyStripeSignature(body, `t=${t},v1=${good}`, SECRET, { nowSeconds: t + 300 }), true);
  assertEquals(await verifyStripeSignature(body, `t=${t},v1=${good}`, SECRET, { nowSeconds: t + 301 }), false);
  assertEquals(await verifyStripeSignature(body, `t=${t},v1=${good}`, SECRET, { nowSeconds: t - 301 }), false);
  assertEquals(await verifyStripeSignature(body, `t=${t},v1=${good.slice(0, 63)}`, SECRET, { nowSeconds: t }), false);
  assertEquals(await verifyStripeSignature(body, `v1=${good}`, SECRET, { nowSeconds: t }), false);
  assertEquals(await verifyStripeSignature(body, null, SECRET, { nowSeconds: t }), false);
});
