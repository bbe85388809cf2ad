// @vitest-environment happy-dom
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { attr, createTestTracer } from '../../testUtils/index.js';
import { finishHttpSpan } from './http.js';

function httpSpan(url: string, status: number | undefined) {
  const t = createTestTracer();
  const span = t.context.tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': url } });
  finishHttpSpan(span, status);
  span.end();
  return t.spans()[0]!;
}

describe('http spans', () => {
  it('are named {METHOD} {route} with ids collapsed and no query string', () => {
    expect(httpSpan(`${location.origin}/api/orders/42?x=secret`, 200).name).toBe('GET /api/orders/:id');
    expect(httpSpan('https://db.example.co/rest/v1/orders?select=*', 200).name).toBe('GET db.example.co/rest/v1/orders');
  });

  it('mark 4xx, 5xx and network failures as errors, and 2xx/3xx not', () => {
    expect(httpSpan('/api/x', 200).status.code).toBe(SpanStatusCode.UNSET);
    expect(httpSpan('/api/x', 304).status.code).toBe(SpanStatusCode.UNSET);
    const notFound = httpSpan('/api/x', 404);
    expect(notFound.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(notFound, 'error.type')).toBe('404');
    expect(httpSpan('/api/x', 500).status.code).toBe(SpanStatusCode.ERROR);
    const network = httpSpan('/api/x', 0);
    expect(network.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(network, 'error.type')).toBe('network');
    expect(httpSpan('/api/x', undefined).status.code).toBe(SpanStatusCode.ERROR);
  });
});
