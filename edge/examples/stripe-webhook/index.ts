// A Supabase Edge Function receiving Stripe webhooks: it verifies the Stripe-Signature header and
// records a payment_failure event for each payment_intent.payment_failed. Deploy it as
// supabase/functions/stripe-webhook/index.ts (with the library in _shared/telemetry/).
import { recordPaymentFailure, withTelemetry } from '../../mod.ts';

/** Signatures older (or newer) than this are refused, seconds: Stripe's default. */
const TOLERANCE_SECONDS = 300;

export const handler = withTelemetry(async (req: Request): Promise<Response> => {
  if (req.method !== 'POST') return json({ error: 'method not allowed' }, 405);
  const secret = Deno.env.get('STRIPE_WEBHOOK_SECRET');
  if (!secret) return json({ error: 'STRIPE_WEBHOOK_SECRET is not set' }, 500);
  const body = await req.text();
  if (!(await verifyStripeSignature(body, req.headers.get('stripe-signature'), secret))) {
    return json({ error: 'invalid signature' }, 400);
  }
  let event: StripeEvent;
  try {
    event = JSON.parse(body) as StripeEvent;
  } catch {
    return json({ error: 'invalid JSON' }, 400);
  }
  if (event?.type === 'payment_intent.payment_failed') {
    const pi = event.data?.object ?? {};
    recordPaymentFailure({
      provider: 'stripe',
      reason: pi.last_payment_error?.decline_code ?? pi.last_payment_error?.code ?? 'unknown',
      orderId: pi.metadata?.order_id,
      // Stripe amounts are in the currency's smallest unit (cents); zero-decimal currencies (JPY…) are not divided here.
      amount: typeof pi.amount === 'number' ? pi.amount / 100 : undefined,
    });
  }
  return json({ received: true }, 200);
}, { name: 'stripe-webhook' });

interface StripeEvent {
  type?: string;
  data?: {
    object?: {
      amount?: number;
      metadata?: { order_id?: string };
      last_payment_error?: { code?: string; decline_code?: string };
    };
  };
}

/**
 * Checks a Stripe-Signature header (`t=<unix seconds>,v1=<hex>[,v1=…]`): some v1 is the
 * HMAC-SHA256 (hex) of `${t}.${payload}` with the endpoint secret, and t is within the tolerance.
 */
export async function verifyStripeSignature(
  payload: string,
  header: string | null,
  secret: string,
  { toleranceSeconds = TOLERANCE_SECONDS, nowSeconds = Date.now() / 1000 } = {},
): Promise<boolean> {
  if (!header) return false;
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') timestamp = value;
    else if (key === 'v1') signatures.push(value.toLowerCase());
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = await hmacSha256Hex(secret, `${timestamp}.${payload}`);
  let ok = false;
  for (const signature of signatures) ok = constantTimeEqual(signature, expected) || ok;
  return ok;
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two strings in a time that depends only on their lengths. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

if (import.meta.main) Deno.serve(handler);
