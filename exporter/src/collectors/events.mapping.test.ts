// The events collector's row -> metric mapping on its own: eventSamples() is a pure function of
// a row, so each event type's mapping (and what a malformed row counts) is checked here without
// a database. Series budgets and the counting itself are events.test.ts' (through Postgres).
import { describe, expect, it } from 'vitest';
import { compileRoutePatterns } from '../text.js';
import { eventSamples, type EventRow, type EventSample, type RowMapping } from './events.js';

const mapping: RowMapping = {
  routePatterns: compileRoutePatterns(['/menu/:category']),
  storeName: (id) => (id === 'st-1' ? 'downtown' : 'unknown'),
};
const at = new Date('2026-03-01T12:00:00Z');
const row = (event_type: unknown, event_data: unknown, extra: Partial<EventRow> = {}) =>
  eventSamples({ created_at: at, event_type: event_type as string, event_data, ...extra }, mapping);
const dims = { service: 'cc-web', env: 'production', release: '1.4.0' };
const counted = (event_type: string): EventSample => ({ kind: 'inc', family: 'cc_events_total', labels: { event_type }, value: 1, budgeted: true });
const unknownDims = { service: 'unknown', env: 'unknown', release: 'unknown' };

describe('eventSamples: each event type', () => {
  it('page_view: a page view under its route template (a declared route, or ids collapsed)', () => {
    expect(row('page_view', { page: '/menu/pizza?x=1', ...dims })).toEqual([
      counted('page_view'),
      { kind: 'inc', family: 'cc_page_views_total', labels: { page: '/menu/:category', ...dims }, value: 1, budgeted: true },
    ]);
    expect(row('page_view', { page: '/orders/12345' })[1]!.labels).toEqual({ page: '/orders/:id', ...unknownDims });
  });

  it('api_latency: the duration in seconds by endpoint, method and status class, and the unbudgeted request count', () => {
    expect(row('api_latency', { endpoint: 'https://api.example.com/orders/42', method: 'post', status: 503, latency_ms: 250, ...dims })).toEqual([
      counted('api_latency'),
      {
        kind: 'observe',
        family: 'cc_api_request_duration_seconds',
        labels: { endpoint: '/orders/:id', method: 'POST', status_class: '5xx', ...dims },
        value: 0.25,
        budgeted: true,
      },
      { kind: 'inc', family: 'cc_api_requests_total', labels: { status_class: '5xx' }, value: 1, budgeted: false },
    ]);
    // status 0 is the network; still pending when its page closed is aborted; an odd method is unknown
    expect(row('api_latency', { endpoint: '/a', method: 'BREW', status: 0, latency_ms: '12' })[1]).toMatchObject({ labels: { method: 'unknown', status_class: 'network' }, value: 0.012 });
    expect(row('api_latency', { endpoint: '/a', aborted: true, latency_ms: 5 })[1]!.labels.status_class).toBe('aborted');
    expect(row('api_latency', { endpoint: '/a', aborted: true, status: 200, latency_ms: 5 })[1]!.labels.status_class).toBe('2xx');
  });

  it('error, user_action: by error type and by action', () => {
    expect(row('error', { error_type: 'TypeError', ...dims })).toEqual([
      counted('error'),
      { kind: 'inc', family: 'cc_frontend_errors_total', labels: { error_type: 'TypeError', ...dims }, value: 1, budgeted: true },
    ]);
    expect(row('user_action', { action: 'add_to_cart' })).toEqual([
      counted('user_action'),
      { kind: 'inc', family: 'cc_user_actions_total', labels: { action: 'add_to_cart', ...unknownDims }, value: 1, budgeted: true },
    ]);
  });

  it('performance: a web vital in its unit, rated by the row or by the published thresholds', () => {
    expect(row('performance', { metric: 'lcp', value: 3000, page: '/menu/tacos', ...dims })).toEqual([
      counted('performance'),
      { kind: 'observe', family: 'cc_web_vital_lcp_seconds', labels: { page: '/menu/:category', rating: 'needs-improvement', ...dims }, value: 3, budgeted: true },
    ]);
    expect(row('performance', { metric: 'CLS', value: 0.05, page: '/' })[1]).toMatchObject({ family: 'cc_web_vital_cls', labels: { rating: 'good' }, value: 0.05 });
    expect(row('performance', { metric: 'INP', value: 900, page: '/' })[1]).toMatchObject({ family: 'cc_web_vital_inp_seconds', labels: { rating: 'poor' }, value: 0.9 });
    expect(row('performance', { metric: 'TTFB', value: 100, rating: 'poor', page: '/' })[1]!.labels.rating).toBe('poor');
    expect(row('performance', { metric: 'FCP', value: 100, rating: 'meh', page: '/' })[1]!.labels.rating).toBe('good');
    // FID from old clients: counted as an event only
    expect(row('performance', { metric: 'FID', value: 10, page: '/' })).toEqual([counted('performance')]);
  });

  it('edge_function: the execution time in seconds by function and status', () => {
    expect(row('edge_function', { function_name: 'create-order', status: 'error', execution_time_ms: 1500, ...dims })).toEqual([
      counted('edge_function'),
      { kind: 'observe', family: 'cc_edge_function_duration_seconds', labels: { function: 'create-order', status: 'error', ...dims }, value: 1.5, budgeted: true },
    ]);
  });

  it('order_event: the transition by store; a completion adds its revenue and its time since the order was created', () => {
    expect(row('order_event', { store_id: 'st-1', to: 'pending' })).toEqual([
      counted('order_event'),
      { kind: 'inc', family: 'cc_order_transitions_total', labels: { store: 'downtown', from: 'none', to: 'pending' }, value: 1, budgeted: true },
    ]);
    expect(row('order_event', { store_id: 'st-9', from: 'ready', to: 'completed', total: '42.50', order_created_at: '2026-03-01T11:30:00Z' })).toEqual([
      counted('order_event'),
      { kind: 'inc', family: 'cc_order_transitions_total', labels: { store: 'unknown', from: 'ready', to: 'completed' }, value: 1, budgeted: true },
      { kind: 'inc', family: 'cc_order_revenue_total', labels: { store: 'unknown' }, value: 42.5, budgeted: true },
      { kind: 'observe', family: 'cc_order_completion_duration_seconds', labels: { store: 'unknown' }, value: 1800, budgeted: true },
    ]);
  });

  it('payment_failure, auto_heal: by provider and reason, by action', () => {
    expect(row('payment_failure', { provider: 'stripe', reason: 'card_declined' })).toEqual([
      counted('payment_failure'),
      { kind: 'inc', family: 'cc_payment_failures_total', labels: { provider: 'stripe', reason: 'card_declined' }, value: 1, budgeted: true },
    ]);
    expect(row('auto_heal', { action: 'complete_stuck_ready' })).toEqual([
      counted('auto_heal'),
      { kind: 'inc', family: 'cc_auto_heal_actions_total', labels: { action: 'complete_stuck_ready' }, value: 1, budgeted: true },
    ]);
  });

  it('an event type it does not know: counted as an event only', () => {
    expect(row('maintenance', { ran: true })).toEqual([counted('maintenance')]);
  });
});

describe('eventSamples: malformed rows never throw, and count what they can', () => {
  it('a row dated in the future is set aside whole: ignored, not even counted as an event', () => {
    expect(row('payment_failure', { provider: 'stripe' }, { future: true })).toEqual([
      { kind: 'inc', family: 'cc_events_ignored_total', labels: { reason: 'dated_in_future' }, value: 1, budgeted: false },
    ]);
  });

  it('event_data that is not an object: every label unknown', () => {
    for (const data of [null, 'text', 42, undefined]) {
      expect(row('page_view', data)).toEqual([
        counted('page_view'),
        { kind: 'inc', family: 'cc_page_views_total', labels: { page: 'unknown', ...unknownDims }, value: 1, budgeted: true },
      ]);
      expect(row('api_latency', data)).toEqual([counted('api_latency')]);
      expect(row('order_event', data)).toEqual([counted('order_event')]);
    }
  });

  it('an event type that is no text: a label of what it holds, nothing else counted', () => {
    expect(row(null, { page: '/' })).toEqual([counted('unknown')]);
    expect(row(7, { page: '/' })).toEqual([counted('7')]);
  });

  it('values out of range or of the wrong type: no observation', () => {
    expect(row('api_latency', { endpoint: '/a', status: 200, latency_ms: -1 })).toEqual([counted('api_latency')]);
    expect(row('api_latency', { endpoint: '/a', status: 200, latency_ms: 'fast' })).toEqual([counted('api_latency')]);
    expect(row('api_latency', { endpoint: '/a', status: 700, latency_ms: 5 })).toEqual([counted('api_latency')]);
    expect(row('api_latency', { endpoint: '/a', status: 200.5, latency_ms: 5 })).toEqual([counted('api_latency')]);
    expect(row('performance', { metric: 'LCP', value: Infinity })).toEqual([counted('performance')]);
    expect(row('performance', { metric: 42, value: 1 })).toEqual([counted('performance')]);
    expect(row('edge_function', { function_name: 'f', execution_time_ms: null })).toEqual([counted('edge_function')]);
    expect(row('order_event', { store_id: 'st-1', from: 'pending' })).toEqual([counted('order_event')]);
  });

  it('a completion with a bad total or creation time: the transition, and only what can be read', () => {
    const samples = row('order_event', { store_id: 'st-1', from: 'ready', to: 'completed', total: 'n/a', order_created_at: 'yesterday' });
    expect(samples.map((s) => s.family)).toEqual(['cc_events_total', 'cc_order_transitions_total']);
    // created after the row (a clock ahead): no negative duration
    const ahead = row('order_event', { store_id: 'st-1', to: 'completed', total: 0, order_created_at: '2026-03-01T13:00:00Z' });
    expect(ahead.map((s) => [s.family, s.value])).toEqual([['cc_events_total', 1], ['cc_order_transitions_total', 1], ['cc_order_revenue_total', 0]]);
  });

  it('hostile label values are bounded and redacted', () => {
    const [, sample] = row('error', { error_type: `Error for jane@example.com ${'x'.repeat(10_000)}` });
    expect(sample!.labels.error_type!.length).toBeLessThanOrEqual(120);
    expect(sample!.labels.error_type).not.toContain('jane@example.com');
  });
});
