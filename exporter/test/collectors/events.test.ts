import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { compileRoutePatterns } from '../../src/text.js';
import { connect, createTestDatabase, describeEachBackend, waitUntilSettled, type TestDatabase } from '../support/databases.js';
import { samples } from '../support/metrics.js';
import { createEventsCollector, DIMENSIONS, SERIES_BUDGET_DEFAULTS, type EventsOptions } from '../../src/collectors/events.js';
import type { Collector } from '../../src/collectors/types.js';

const defaults: EventsOptions = {
  batchSize: 1000,
  maxBatchesPerScrape: 10,
  checkpointIntervalMs: 0,
  lookbackSeconds: 0,
  seriesBudgets: SERIES_BUDGET_DEFAULTS,
  seriesIdleMs: 3_600_000,
  routePatterns: compileRoutePatterns(['/menu/:category']),
  instance: 'test',
};

describeEachBackend('events collector', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;
  let registry: Registry;
  let collector: Collector;

  const insert = (rows: [string, object][]) =>
    client.query(
      `INSERT INTO runtime_metrics (event_type, event_data) SELECT * FROM unnest($1::text[], $2::jsonb[])`,
      [rows.map((r) => r[0]), rows.map((r) => JSON.stringify(r[1]))],
    );
  /** Collect once all rows are settled (other test files may hold transactions open on the server). */
  const collect = async () => {
    await waitUntilSettled(client);
    await collector.collect(client);
  };
  const start = async (options: Partial<EventsOptions> = {}) => {
    registry = new Registry();
    collector = createEventsCollector(registry, { ...defaults, ...options });
    await collector.collect(client);
  };

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });
  beforeEach(async () => {
    await client.query('TRUNCATE runtime_metrics, observability.event_counter_state');
  });

  it('starts at the end of the table, with the known counters at 0', async () => {
    await insert([['page_view', { page: '/old' }]]);
    // "The end" is the oldest transaction running on the server: another test file's open
    // transaction would put it before this row, which would then count, as it should.
    await waitUntilSettled(client);
    await start();
    await collect();
    expect(await samples(registry, 'cc_page_views_total', DIMENSIONS)).toEqual({});
    const events = await samples(registry, 'cc_events_total');
    expect(events['event_type=page_view']).toBe(0);
    expect(events['event_type=payment_failure']).toBe(0);
    expect(await samples(registry, 'cc_auto_heal_actions_total')).toEqual({
      'action=preparing_to_ready': 0,
      'action=ready_to_completed': 0,
    });
    expect(await samples(registry, 'cc_events_pending')).toEqual({ '': 0 });
    expect(await samples(registry, 'cc_events_oldest_pending_age_seconds')).toEqual({ '': 0 });
  });

  it('turns every event type into its series', async () => {
    await start();
    const { rows: [store] } = await client.query<{ id: string }>(`INSERT INTO stores (slug, name) VALUES ('pier', 'Pier') RETURNING id`);
    await insert([
      ['page_view', { page: '/orders/123', referrer: '', userAgent: 'x' }],
      ['page_view', { page: '/orders/456?x=1' }],
      ['page_view', { page: '/menu/drinks' }],
      ['api_latency', { endpoint: 'https://api.example/rest/v1/orders?id=eq.5', latency_ms: 120, status: 200, method: 'get' }],
      ['api_latency', { endpoint: 'orders.select', latency_ms: 2000, status: 503 }],
      ['api_latency', { endpoint: 'orders.select', latency_ms: '2500', status: 0 }],
      ['api_latency', { endpoint: 'orders.select', latency_ms: 3000, status: 0, method: 'GET', aborted: true }], // pending when its page closed
      ['api_latency', { endpoint: 'orders.select', latency_ms: 'slow', status: 200 }], // skipped: no latency
      ['api_latency', { endpoint: 'orders.select', latency_ms: 5, status: 999 }], // skipped: not a status
      ['error', { error_type: 'fetch_error', message: 'Network timeout', stack: '', url: '/menu' }],
      ['user_action', { action: 'add_to_cart', metadata: { itemId: 123 } }],
      ['performance', { metric: 'LCP', value: 1200, rating: 'good', page: '/menu/drinks' }],
      ['performance', { metric: 'CLS', value: 0.3, page: '/' }], // rating computed: poor
      ['performance', { metric: 'INP', value: 350, page: '/' }], // needs-improvement
      ['performance', { metric: 'FID', value: 12, page: '/' }], // old clients: counted only in cc_events_total
      ['edge_function', { function_name: 'send-alert', execution_time_ms: 340, status: 'success' }],
      ['payment_failure', { provider: 'stripe', reason: 'card_declined', order_id: 'o1', amount: 12.5 }],
      ['auto_heal', { action: 'preparing_to_ready', details: {} }],
      ['mystery', { anything: true }],
      ['error', {}],
    ]);
    const { rows: [order] } = await client.query<{ id: string }>(
      `INSERT INTO orders (store_id, total, created_at) VALUES ($1, 42.5, now() - interval '20 minutes') RETURNING id`,
      [store!.id],
    );
    await client.query(`UPDATE orders SET status = 'preparing' WHERE id = $1`, [order!.id]);
    await client.query(`UPDATE orders SET status = 'completed' WHERE id = $1`, [order!.id]);

    await collect();
    // Counted at once: alerts read series that exist from the start (the unlabelled event totals)
    // and sums over label sets, so a new label set needs no 0 sample first (sql/README.md).
    expect(await samples(registry, 'cc_page_views_total', DIMENSIONS)).toEqual({ 'page=/orders/:id': 2, 'page=/menu/:category': 1 });
    expect(await samples(registry, 'cc_api_request_duration_seconds_count', DIMENSIONS)).toEqual({
      'endpoint=/rest/v1/orders,method=GET,status_class=2xx': 1,
      'endpoint=orders.select,method=unknown,status_class=5xx': 1,
      'endpoint=orders.select,method=unknown,status_class=network': 1,
      'endpoint=orders.select,method=GET,status_class=aborted': 1,
    });
    expect(await samples(registry, 'cc_api_request_duration_seconds_sum', DIMENSIONS)).toEqual({
      'endpoint=/rest/v1/orders,method=GET,status_class=2xx': 0.12,
      'endpoint=orders.select,method=unknown,status_class=5xx': 2,
      'endpoint=orders.select,method=unknown,status_class=network': 2.5,
      'endpoint=orders.select,method=GET,status_class=aborted': 3,
    });
    // The bucket at exactly 2 s holds the 2000 ms request.
    const buckets = await samples(registry, 'cc_api_request_duration_seconds_bucket', DIMENSIONS);
    expect(buckets['le=1,endpoint=orders.select,method=unknown,status_class=5xx']).toBe(0);
    expect(buckets['le=2,endpoint=orders.select,method=unknown,status_class=5xx']).toBe(1);
    expect(await samples(registry, 'cc_frontend_errors_total', DIMENSIONS)).toEqual({ 'error_type=fetch_error': 1, 'error_type=unknown': 1 });
    expect(await samples(registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({ 'action=add_to_cart': 1 });
    expect(await samples(registry, 'cc_web_vital_lcp_seconds_sum', DIMENSIONS)).toEqual({ 'page=/menu/:category,rating=good': 1.2 });
    expect(await samples(registry, 'cc_web_vital_cls_count', DIMENSIONS)).toEqual({ 'page=/,rating=poor': 1 });
    expect(await samples(registry, 'cc_web_vital_inp_seconds_count', DIMENSIONS)).toEqual({ 'page=/,rating=needs-improvement': 1 });
    expect(await samples(registry, 'cc_edge_function_duration_seconds_sum', DIMENSIONS)).toEqual({ 'function=send-alert,status=success': 0.34 });
    expect(await samples(registry, 'cc_payment_failures_total')).toEqual({ 'provider=stripe,reason=card_declined': 1 });
    expect(await samples(registry, 'cc_auto_heal_actions_total')).toEqual({
      'action=preparing_to_ready': 1,
      'action=ready_to_completed': 0,
    });
    expect(await samples(registry, 'cc_order_transitions_total')).toEqual({
      'store=pier,from=none,to=pending': 1,
      'store=pier,from=pending,to=preparing': 1,
      'store=pier,from=preparing,to=completed': 1,
    });
    expect(await samples(registry, 'cc_order_revenue_total')).toEqual({ 'store=pier': 42.5 });
    const completion = (await samples(registry, 'cc_order_completion_duration_seconds_sum'))['store=pier']!;
    expect(completion).toBeGreaterThanOrEqual(20 * 60);
    expect(completion).toBeLessThan(20 * 60 + 30);

    const events = await samples(registry, 'cc_events_total');
    expect(events).toMatchObject({
      'event_type=page_view': 3,
      'event_type=api_latency': 6,
      'event_type=error': 2,
      'event_type=performance': 4,
      'event_type=order_event': 3,
      'event_type=mystery': 1,
      'event_type=deployment': 0,
    });
  });

  it('sets rows dated in the future aside (forged before migration 011): counted as ignored, never as their type', async () => {
    await start();
    // As an older install let them in: the dating trigger off for this insert.
    await client.query(`SET session_replication_role = replica`);
    try {
      await client.query(`INSERT INTO runtime_metrics (event_type, event_data, created_at) VALUES
        ('payment_failure', '{"provider": "stripe", "reason": "forged"}', now() + interval '1 hour'),
        ('payment_failure', '{"provider": "stripe", "reason": "real"}', now())`);
    } finally {
      await client.query(`SET session_replication_role = origin`);
    }
    await collect();
    expect(await samples(registry, 'cc_payment_failures_total')).toEqual({ 'provider=stripe,reason=real': 1 });
    expect((await samples(registry, 'cc_events_total'))['event_type=payment_failure']).toBe(1);
    expect(await samples(registry, 'cc_events_ignored_total')).toEqual({ 'reason=dated_in_future': 1 });
  });

  it('counts a lookback window on start when configured', async () => {
    await client.query(`INSERT INTO runtime_metrics (event_type, event_data, created_at) VALUES
      ('user_action', '{"action": "recent"}', now() - interval '5 minutes'),
      ('user_action', '{"action": "recent"}', now() - interval '1 minute')`);
    await start({ lookbackSeconds: 3600 });
    await collect();
    expect(await samples(registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({ 'action=recent': 2 });
  });

  it('keeps a family within its series budget: past it, new values read other and are counted as overflow', async () => {
    await start({ seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_user_actions_total: 2 } });
    await insert([
      ['user_action', { action: 'a' }],
      ['user_action', { action: 'b' }],
      ['user_action', { action: 'c' }],
      ['user_action', { action: 'd' }],
      ['user_action', { action: 'a' }],
    ]);
    await collect();
    await collect();
    expect(await samples(registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({ 'action=a': 2, 'action=b': 1, 'action=other': 2 });
    const overflow = await samples(registry, 'cc_label_overflow_total');
    expect(overflow['family=cc_user_actions_total']).toBe(2);
    expect(overflow['family=cc_page_views_total']).toBe(0); // every budgeted family from the start, for the alert
  });

  it('budgets series, not values: a flood of endpoints x methods x status classes stays within the histogram family', async () => {
    await start({ seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_api_request_duration_seconds: 10 } });
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'];
    const rows: [string, object][] = [];
    for (let e = 0; e < 20; e++) for (const method of methods) for (const status of [200, 301, 404, 503, 0]) rows.push(['api_latency', { endpoint: `/flood${e}`, method, status, latency_ms: 5 }]);
    await insert(rows);
    await collect();
    const endpoints = Object.keys(await samples(registry, 'cc_api_request_duration_seconds_count', DIMENSIONS));
    const flood = endpoints.filter((k) => k.includes('endpoint=/flood'));
    expect(flood).toHaveLength(10);
    // the rest folded: other x at most 8 methods x 5 classes, whatever the flood
    expect(endpoints.filter((k) => k.includes('endpoint=other')).length).toBeLessThanOrEqual(40);
    expect((await samples(registry, 'cc_label_overflow_total'))['family=cc_api_request_duration_seconds']).toBe(800 - 10);
  });

  it('never starves declared routes, and lets idle flood series give their places back without a restart', async () => {
    await start({ seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_page_views_total: 3, cc_user_actions_total: 3 } });
    const at = (rows: [string, object, string][]) =>
      client.query(
        `INSERT INTO runtime_metrics (event_type, event_data, created_at) SELECT t, d, now() - c::interval FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS r(t, d, c)`,
        [rows.map((r) => r[0]), rows.map((r) => JSON.stringify(r[1])), rows.map((r) => r[2])],
      );
    // Two hours ago a flood filled both families...
    await at(Array.from({ length: 6 }, (_, i): [string, object, string] => ['page_view', { page: `/junk${i}` }, '2 hours']));
    await at(Array.from({ length: 6 }, (_, i): [string, object, string] => ['user_action', { action: `junk${i}` }, '2 hours']));
    // ...then a declared route arrives at once (it takes a flood series' place), and now real values.
    await at([
      ['page_view', { page: '/menu/pizza' }, '2 hours'],
      ['page_view', { page: '/checkout' }, '1 minute'],
      ['user_action', { action: 'add_to_cart' }, '1 minute'],
      ['user_action', { action: 'add_to_cart' }, '0 minutes'],
    ]);
    await collect();
    const pages = await samples(registry, 'cc_page_views_total', DIMENSIONS);
    expect(pages['page=/menu/:category']).toBe(1);
    expect(pages['page=/checkout']).toBe(1);
    expect(Object.keys(pages).filter((k) => k.startsWith('page=/junk')).length).toBeLessThanOrEqual(1);
    expect(pages['page=other']).toBe(3); // /junk3 to /junk5, while the family was full of fresh junk
    expect((await samples(registry, 'cc_user_actions_total', DIMENSIONS))['action=add_to_cart']).toBe(2);
    expect(Object.keys(pages).length).toBeLessThanOrEqual(4); // the budget, and other
  });

  it('labels browser and edge series with service, environment and release; deployments make theirs known, a flood of forged releases never starves them', async () => {
    await client.query('TRUNCATE deployment_log CASCADE');
    await client.query(
      `INSERT INTO deployment_log (deployment_id, environment, version, commit_sha, status, deployed_at)
       VALUES ('d1', 'production', 'v1.4.0', 'aaaaaaa', 'success', now() - interval '2 days'),
              ('d2', 'production', 'v1.5.0', 'bbbbbbb', 'success', now() - interval '1 hour'),
              ('d3', 'staging', 'v1.6.0-rc1', 'ccccccc', 'success', now())`,
    );
    await start({ seriesBudgets: { ...SERIES_BUDGET_DEFAULTS, cc_page_views_total: 4 } });
    const prod = { service: 'web', env: 'production' };
    await insert([
      ['page_view', { page: '/menu/pizza', ...prod, release: 'v1.5.0' }],
      ['page_view', { page: '/menu/pizza', ...prod, release: 'v1.4.0' }],
      ['page_view', { page: '/menu/pizza', service: 'web', env: 'staging', release: 'v1.6.0-rc1' }],
      ['page_view', { page: '/menu/pizza' }], // the app's own writer: no resource
      ...Array.from({ length: 10 }, (_, i): [string, object] => ['page_view', { page: '/menu/pizza', ...prod, release: `forged-${i}` }]),
      ['page_view', { page: '/menu/pizza', ...prod, release: 'v1.5.0' }],
      ['edge_function', { function_name: 'stripe-webhook', execution_time_ms: 12, status: 'success', service: 'edge-functions', env: 'production', release: 'bbbbbbb' }],
    ]);
    await collect();
    const pages = await samples(registry, 'cc_page_views_total');
    expect(pages['page=/menu/:category,service=web,env=production,release=v1.5.0']).toBe(2);
    expect(pages['page=/menu/:category,service=web,env=production,release=v1.4.0']).toBe(1);
    expect(pages['page=/menu/:category,service=web,env=staging,release=v1.6.0-rc1']).toBe(1);
    expect(pages['page=/menu/:category,service=unknown,env=unknown,release=unknown']).toBe(1);
    // the budget (4) was taken by known series; the forged releases all read other, dimensions included
    expect(Object.keys(pages).filter((k) => k.includes('forged'))).toEqual([]);
    expect(pages['page=/menu/:category,service=other,env=other,release=other']).toBe(10);
    expect((await samples(registry, 'cc_label_overflow_total'))['family=cc_page_views_total']).toBe(10);
    const edge = await samples(registry, 'cc_edge_function_duration_seconds_count');
    expect(edge['function=stripe-webhook,status=success,service=edge-functions,env=production,release=bbbbbbb']).toBe(1);
    // a deploy after the start is known as soon as a row names it
    await client.query(`INSERT INTO deployment_log (deployment_id, environment, version, status) VALUES ('d4', 'production', 'v1.7.0', 'success')`);
    await insert(Array.from({ length: 3 }, (): [string, object] => ['page_view', { page: '/menu/pizza', ...prod, release: 'v1.7.0' }]));
    await collect();
    expect((await samples(registry, 'cc_page_views_total'))['page=/menu/:category,service=web,env=production,release=v1.7.0']).toBe(3);
  });

  it('reads a backlog in bounded batches over several scrapes', async () => {
    await start({ batchSize: 100, maxBatchesPerScrape: 2 });
    await insert(Array.from({ length: 450 }, () => ['user_action', { action: 'tap' }] as [string, object]));
    const counted = async () => (await samples(registry, 'cc_events_total'))['event_type=user_action'];
    await collect();
    expect(await counted()).toBe(200);
    expect(await samples(registry, 'cc_events_pending')).toEqual({ '': 250 });
    await collect();
    expect(await counted()).toBe(400);
    await collect();
    expect(await counted()).toBe(450);
    expect(await samples(registry, 'cc_events_pending')).toEqual({ '': 0 });
  });

  it('waits for a transaction that commits late instead of skipping its row', async () => {
    if (kind === 'pglite') return; // one session: there is no second transaction to wait for
    await start();
    const slow = await connect(db);
    try {
      await slow.query('BEGIN');
      await slow.query(`INSERT INTO runtime_metrics (event_type, event_data) VALUES ('user_action', '{"action": "slow"}')`);
      await insert([['user_action', { action: 'fast' }]]); // later id, commits first
      await collector.collect(client); // not waiting: the open transaction is the point
      await collector.collect(client);
      expect(await samples(registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({});
      expect(await samples(registry, 'cc_events_pending')).toEqual({ '': 1 }); // the fast row, not yet settled
      // The same row stays first behind the cursor: its wait is timed by the exporter.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await collector.collect(client);
      expect((await samples(registry, 'cc_events_oldest_pending_age_seconds'))['']).toBeGreaterThanOrEqual(1);
      await slow.query('COMMIT');
      await collect();
      await collect();
      expect(await samples(registry, 'cc_user_actions_total', DIMENSIONS)).toEqual({ 'action=slow': 1, 'action=fast': 1 });
      expect(await samples(registry, 'cc_events_oldest_pending_age_seconds')).toEqual({ '': 0 });
    } finally {
      await slow.end();
    }
  });
});
