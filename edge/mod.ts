// Telemetry for Supabase Edge Functions (Deno, and Node 20): one OTLP SERVER span per request
// and payment_failure events, sent to the Connect Observability exporter over OTLP/HTTP JSON.
// See README.md.
export { configure, flush, recordPaymentFailure, stats, withTelemetry } from './telemetry.ts';
export type { PaymentFailure, TelemetryOptions } from './telemetry.ts';
