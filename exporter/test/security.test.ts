// The claims of SECURITY.md that no other test makes: tokens compared in constant time, the
// database roles' whole privilege matrix and row level security, the exporter's own statements
// running as its least-privileged role, the logger's redaction, and a label flood through the
// public OTLP endpoint staying within the label cap.
import { Writable } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireAuth } from '../src/auth.js';
import { writeAlertHistory } from '../src/hooks/alert-history.js';
import { parseWebhookPayload } from '../src/hooks/payload.js';
import { insertRows } from '../src/ingest/store.js';
import { createLogger } from '../src/log.js';
import { connect, createTestDatabase, describeEachBackend, waitUntilSettled, type TestDatabase } from './support/databases.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { parseExposition } from './support/metrics.js';
import { jsonRequest, post, type JsonSpanInput } from './support/otlp.js';

const compared = vi.hoisted(() => ({ calls: [] as [number, number][] }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.calls.push([a.byteLength, b.byteLength]);
      return crypto.timingSafeEqual(a, b);
    },
  };
});

describe('token comparison', () => {
  /** Runs the middleware on a request with this Authorization header: whether it let it through. */
  function check(handler: ReturnType<typeof requireAuth>, authorization: string | undefined): { passed: boolean; status: number | undefined } {
    let passed = false;
    let status: number | undefined;
    const res = {
      set: () => res,
      status: (s: number) => ((status = s), res),
      type: () => res,
      send: () => res,
    };
    const req = { get: (name: string) => (name.toLowerCase() === 'authorization' ? authorization : undefined) };
    handler(req as never, res as never, () => (passed = true));
    return { passed, status };
  }

  it('compares every presented credential with timingSafeEqual over SHA-256 digests of equal length, whatever its length', () => {
    const bearer = requireAuth({ kind: 'bearer', token: 's3cret-token' });
    const basic = requireAuth({ kind: 'basic', username: 'prometheus', password: 'pa55' });
    const tries: [ReturnType<typeof requireAuth>, string | undefined, boolean][] = [
      [bearer, 'Bearer s3cret-token', true],
      [bearer, 'Bearer s3cret-tokeX', false], // same length, last character wrong
      [bearer, 'Bearer s', false],
      [bearer, undefined, false],
      [bearer, `Bearer ${'s'.repeat(10_000)}`, false],
      [basic, `Basic ${Buffer.from('prometheus:pa55').toString('base64')}`, true],
      [basic, `Basic ${Buffer.from('prometheus:pa56').toString('base64')}`, false],
      [basic, 'Basic', false],
    ];
    for (const [handler, authorization, ok] of tries) {
      compared.calls.length = 0;
      const { passed, status } = check(handler, authorization);
      expect(passed, authorization).toBe(ok);
      expect(status, authorization).toBe(ok ? undefined : 401);
      expect(compared.calls, authorization).toEqual([[32, 32]]);
    }
  });
});

describe('logger redaction', () => {
  it('masks passwords, tokens, database URLs and Authorization headers', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      { password: 'pw-1', token: 'tok-2', databaseUrl: 'postgres://u:pw-3@h/db', config: { password: 'pw-4', token: 'tok-5', databaseUrl: 'postgres://u:pw-6@h/db' }, req: { headers: { authorization: 'Bearer tok-7' } } },
      'configured',
    );
    const line = JSON.parse(out) as Record<string, unknown>;
    expect(line).toMatchObject({ password: '***', token: '***', databaseUrl: '***', config: { password: '***', token: '***', databaseUrl: '***' }, req: { headers: { authorization: '***' } } });
    for (const secret of ['pw-1', 'tok-2', 'pw-3', 'pw-4', 'tok-5', 'pw-6', 'tok-7']) expect(out).not.toContain(secret);
  });
});

// Privileges per role and table: S(elect) I(nsert) U(pdate) D(elete) on the whole table, i for
// INSERT on some columns only (runtime_metrics' payload columns), '-' for none.
const TABLES = ['public.runtime_metrics', 'public.alert_history', 'public.deployment_log', 'public.mv_order_health', 'public.orders', 'observability.active_orders', 'observability.otlp_request_digests', 'observability.event_counter_state', 'observability.sms_pages'];
const EXPECTED_PRIVILEGES: Record<string, Record<string, string>> = {
  cc_exporter: { 'public.runtime_metrics': 'Si', 'public.alert_history': 'SIU', 'public.deployment_log': 'S', 'public.mv_order_health': 'S', 'public.orders': '-', 'observability.active_orders': 'S', 'observability.otlp_request_digests': 'SID', 'observability.event_counter_state': 'SIU', 'observability.sms_pages': 'SIU' },
  cc_grafana: { 'public.runtime_metrics': 'S', 'public.alert_history': 'S', 'public.deployment_log': 'S', 'public.mv_order_health': 'S', 'public.orders': '-', 'observability.active_orders': 'S', 'observability.otlp_request_digests': '-', 'observability.event_counter_state': 'S', 'observability.sms_pages': 'S' },
  anon: { 'public.runtime_metrics': 'i', 'public.alert_history': '-', 'public.deployment_log': '-', 'public.mv_order_health': '-', 'public.orders': '-', 'observability.active_orders': '-', 'observability.otlp_request_digests': '-', 'observability.event_counter_state': '-', 'observability.sms_pages': '-' },
  authenticated: { 'public.runtime_metrics': 'i', 'public.alert_history': '-', 'public.deployment_log': '-', 'public.mv_order_health': '-', 'public.orders': '-', 'observability.active_orders': '-', 'observability.otlp_request_digests': '-', 'observability.event_counter_state': '-', 'observability.sms_pages': '-' },
  service_role: { 'public.runtime_metrics': 'SIUD', 'public.alert_history': 'SIUD', 'public.deployment_log': 'SIUD', 'public.mv_order_health': 'S', 'observability.active_orders': 'S', 'observability.otlp_request_digests': 'SIUD', 'observability.event_counter_state': 'SIUD', 'observability.sms_pages': 'SIUD' },
};

describeEachBackend('database roles and row level security', (kind) => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    client = await connect(db);
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  /** Runs fn as `role` in a transaction that is rolled back. */
  async function as<T>(role: string, fn: () => Promise<T>): Promise<T> {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL ROLE ${role}`);
      return await fn();
    } finally {
      await client.query('ROLLBACK');
    }
  }

  it('grants each role exactly its table privileges, the exporter and browsers only the payload columns of runtime_metrics', async () => {
    const { rows } = await client.query<{ role: string; tbl: string; s: boolean; i: boolean; ci: boolean; u: boolean; d: boolean }>(
      `SELECT r AS role, t AS tbl,
              has_table_privilege(r, t, 'SELECT') AS s, has_table_privilege(r, t, 'INSERT') AS i,
              has_any_column_privilege(r, t, 'INSERT') AS ci,
              has_table_privilege(r, t, 'UPDATE') AS u, has_table_privilege(r, t, 'DELETE') AS d
         FROM unnest($1::text[]) AS r, unnest($2::text[]) AS t`,
      [Object.keys(EXPECTED_PRIVILEGES), TABLES],
    );
    const actual: Record<string, Record<string, string>> = {};
    for (const row of rows) {
      if (row.role === 'service_role' && row.tbl === 'public.orders') continue; // the app's schema grants that
      const letters = `${row.s ? 'S' : ''}${row.i ? 'I' : row.ci ? 'i' : ''}${row.u ? 'U' : ''}${row.d ? 'D' : ''}`;
      (actual[row.role] ??= {})[row.tbl] = letters || '-';
    }
    expect(actual).toEqual(EXPECTED_PRIVILEGES);
    const { rows: columns } = await client.query<{ role: string; tx: boolean; id: boolean; event_data: boolean }>(
      `SELECT r AS role, has_column_privilege(r, 'public.runtime_metrics', 'tx', 'INSERT') AS tx,
              has_column_privilege(r, 'public.runtime_metrics', 'id', 'INSERT') AS id,
              has_column_privilege(r, 'public.runtime_metrics', 'event_data', 'INSERT') AS event_data
         FROM unnest(ARRAY['cc_exporter', 'anon', 'authenticated']) AS r`,
    );
    for (const c of columns) expect(c, c.role).toEqual({ role: c.role, tx: false, id: false, event_data: true });
  });

  it('has row level security on every table browsers or the exporter write, and refuses oversized browser rows', async () => {
    const { rows } = await client.query<{ relname: string; relrowsecurity: boolean }>(
      `SELECT relname, relrowsecurity FROM pg_class WHERE oid IN ('public.runtime_metrics'::regclass, 'public.alert_history'::regclass, 'public.deployment_log'::regclass) ORDER BY relname`,
    );
    expect(rows).toEqual([
      { relname: 'alert_history', relrowsecurity: true },
      { relname: 'deployment_log', relrowsecurity: true },
      { relname: 'runtime_metrics', relrowsecurity: true },
    ]);
    await as('anon', async () => {
      await client.query('SAVEPOINT s');
      await expect(client.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ($1, '{}')`, ['x'.repeat(65)])).rejects.toThrow(/row-level security/);
      await client.query('ROLLBACK TO SAVEPOINT s');
      await expect(client.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ('page_view', $1::jsonb)`, [JSON.stringify({ page: 'p'.repeat(70_000) })])).rejects.toThrow(/row-level security/);
      await client.query('ROLLBACK TO SAVEPOINT s');
      await client.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ('page_view', '{"page": "/menu"}')`);
    });
  });

  const BROWSER_TYPES = ['page_view', 'api_latency', 'error', 'user_action', 'performance'];
  const SERVER_ONLY_TYPES = ['payment_failure', 'edge_function', 'backup', 'restore', 'maintenance', 'deployment', 'order_event', 'auto_heal', 'made_up'];

  it('lets the public roles write only browser event types; server-only types only as the exporter or service_role', async () => {
    const allowed: Record<string, string[]> = {};
    for (const role of ['anon', 'authenticated', 'cc_exporter', 'service_role']) {
      allowed[role] = [];
      await as(role, async () => {
        for (const type of [...BROWSER_TYPES, ...SERVER_ONLY_TYPES]) {
          await client.query('SAVEPOINT s');
          try {
            await client.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ($1, '{"status": "success"}')`, [type]);
            allowed[role]!.push(type);
          } catch (err) {
            expect(String(err), `${role} ${type}`).toMatch(/row-level security/);
            await client.query('ROLLBACK TO SAVEPOINT s');
          }
        }
      });
    }
    expect(allowed).toEqual({
      anon: BROWSER_TYPES,
      authenticated: BROWSER_TYPES,
      cc_exporter: [...BROWSER_TYPES, ...SERVER_ONLY_TYPES],
      service_role: [...BROWSER_TYPES, ...SERVER_ONLY_TYPES],
    });
  });

  it('dates browser rows by the database (a created_at outside the last 5 minutes becomes now) and lets no writer date a row in the future', async () => {
    const dated: Record<string, Record<string, string>> = {};
    for (const role of ['anon', 'authenticated', 'cc_exporter', 'service_role']) {
      await as(role, async () => {
        const type = role === 'anon' || role === 'authenticated' ? 'page_view' : 'backup';
        const given = { future: '2099-01-01T00:00:00Z', old: '2001-01-01T00:00:00Z', recent: 'minute ago', now: 'default' };
        for (const [name, value] of Object.entries(given)) {
          const at = value === 'minute ago' ? `now() - interval '1 minute'` : value === 'default' ? 'DEFAULT' : `'${value}'::timestamptz`;
          await client.query(`INSERT INTO public.runtime_metrics (created_at, event_type, event_data) VALUES (${at}, $1, $2::jsonb)`, [type, JSON.stringify({ status: 'success', probe: name })]);
        }
        await client.query('RESET ROLE');
        const { rows } = await client.query<{ probe: string; dated: string }>(
          `SELECT event_data ->> 'probe' AS probe,
                  CASE WHEN created_at = now() THEN 'now' WHEN created_at = now() - interval '1 minute' THEN 'minute ago' ELSE to_char(created_at AT TIME ZONE 'UTC', 'YYYY') END AS dated
             FROM public.runtime_metrics WHERE event_data ? 'probe'`,
        );
        dated[role] = Object.fromEntries(rows.map((r) => [r.probe, r.dated]));
      });
    }
    const browser = { future: 'now', old: 'now', recent: 'minute ago', now: 'now' };
    const server = { future: 'now', old: '2001', recent: 'minute ago', now: 'now' }; // a restore may date the past
    expect(dated).toEqual({ anon: browser, authenticated: browser, cc_exporter: server, service_role: server });
  });

  it('keeps order events flowing whichever role changes an order (the trigger function is SECURITY DEFINER)', async () => {
    await client.query('BEGIN');
    try {
      // What a Supabase app grants its signed-in staff on its own tables.
      await client.query('GRANT SELECT, INSERT, UPDATE ON public.orders TO authenticated');
      const { rows: stores } = await client.query<{ id: string }>(`INSERT INTO public.stores (slug, name) VALUES ('rights', 'Rights') RETURNING id`);
      await client.query('SET LOCAL ROLE authenticated');
      const { rows: orders } = await client.query<{ id: string }>(`INSERT INTO public.orders (store_id, total) VALUES ($1, 12.5) RETURNING id`, [stores[0]!.id]);
      await client.query(`UPDATE public.orders SET status = 'confirmed' WHERE id = $1`, [orders[0]!.id]);
      await client.query('RESET ROLE');
      const { rows } = await client.query<{ event: string; to: string }>(
        `SELECT event_data ->> 'event' AS event, event_data ->> 'to' AS to FROM public.runtime_metrics
          WHERE event_type = 'order_event' AND event_data ->> 'order_id' = $1 ORDER BY id`,
        [orders[0]!.id],
      );
      expect(rows).toEqual([
        { event: 'created', to: 'pending' },
        { event: 'status_changed', to: 'confirmed' },
      ]);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it("prunes rows dated in the future that an older install let in (retention), with the rest of retention's work", async () => {
    await client.query('BEGIN');
    try {
      // As before migration 011: the dating trigger off for this transaction.
      await client.query(`SET LOCAL session_replication_role = replica`);
      await client.query(`INSERT INTO public.runtime_metrics (created_at, event_type, event_data) VALUES
        ('2099-01-01', 'backup', '{"status": "success", "probe": "forged"}'),
        (now() - interval '40 days', 'page_view', '{"probe": "old"}'),
        (now(), 'page_view', '{"probe": "current"}')`);
      await client.query(`SET LOCAL session_replication_role = origin`);
      await client.query('SELECT public.cleanup_old_metrics(30)');
      const { rows } = await client.query<{ probe: string }>(`SELECT event_data ->> 'probe' AS probe FROM public.runtime_metrics WHERE event_data ? 'probe'`);
      expect(rows).toEqual([{ probe: 'current' }]);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it("runs the exporter's own writes as cc_exporter: span rows and alert history, and no more", async () => {
    await as('cc_exporter', async () => {
      await insertRows(client, [{ createdAt: new Date().toISOString(), sessionId: 's', eventType: 'page_view', eventData: { page: '/menu' } }]);
      const payload = parseWebhookPayload({
        status: 'firing',
        alerts: [{ status: 'firing', labels: { alertname: 'X' }, annotations: {}, startsAt: '2026-01-01T00:00:00Z', fingerprint: 'f1' }],
      });
      await writeAlertHistory(client, payload);
      await writeAlertHistory(client, payload); // the replay updates the same row
      const { rows } = await client.query<{ n: number }>(`SELECT notifications AS n FROM public.alert_history WHERE fingerprint = 'f1'`);
      expect(rows).toEqual([{ n: 2 }]);
      await client.query('SAVEPOINT s');
      for (const sql of ['DELETE FROM public.runtime_metrics', 'UPDATE public.runtime_metrics SET event_type = event_type', 'DELETE FROM public.alert_history', 'SELECT * FROM public.orders', `INSERT INTO public.deployment_log (environment, version) VALUES ('p', '1')`]) {
        await expect(client.query(sql), sql).rejects.toThrow(/permission denied/);
        await client.query('ROLLBACK TO SAVEPOINT s');
      }
    });
  });

  it("bounds whatever the exporter's role runs: statement, lock and idle-in-transaction timeouts on the role itself", async () => {
    const { rows } = await client.query<{ setting: string }>(
      `SELECT unnest(setconfig) AS setting FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'cc_exporter' AND s.setdatabase = 0 ORDER BY 1`,
    );
    expect(rows.map((r) => r.setting)).toEqual(['idle_in_transaction_session_timeout=30s', 'lock_timeout=2s', 'statement_timeout=10s']);
  });

  it('keeps Grafana read-only even where a privilege would allow a write', async () => {
    const { rows } = await client.query<{ setting: string }>(
      `SELECT array_to_string(setconfig, ',') AS setting FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'cc_grafana' AND s.setdatabase = 0`,
    );
    expect(rows).toEqual([{ setting: 'default_transaction_read_only=on' }]);
    await as('cc_grafana', async () => {
      const { rows: counted } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.alert_history');
      expect(Number(counted[0]!.n)).toBeGreaterThanOrEqual(0);
      await expect(client.query(`INSERT INTO public.runtime_metrics (event_type, event_data) VALUES ('x', '{}')`)).rejects.toThrow(/permission denied/);
    });
  });
});

describeEachBackend('a label flood through the public OTLP endpoint', (kind) => {
  let db: TestDatabase;
  let exporter: RunningExporter;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    // Every collector, the default series budgets: the whole scrape is what is measured.
    exporter = await startExporter(db.connectionString, { DB_POOL_MAX: '1', ROUTE_PATTERNS: '/menu/:category,/api/menu', OTLP_RATE_LIMIT_PER_MINUTE: '0', MAINTENANCE_SCHEDULER: 'off' });
    expect((await exporter.get('/metrics')).status).toBe(200); // the event cursor starts here
  });
  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it('keeps the whole scrape within 5,000 samples after a flood of every browser-fed family, counts the overflow, and still counts the declared routes', async () => {
    const word = (i: number) => `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + (Math.floor(i / 26) % 26))}${String.fromCharCode(97 + (Math.floor(i / 676) % 26))}x`;
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
    const statuses = [200, 302, 404, 503, 0];
    const vitals: [string, number][] = [['LCP', 3000], ['INP', 300], ['CLS', 0.2], ['FCP', 2000], ['TTFB', 1000]];
    const ratings = ['good', 'needs-improvement', 'poor'];
    for (let batch = 0; batch < 10; batch++) {
      const spans: JsonSpanInput[] = Array.from({ length: 100 }, (_, k): JsonSpanInput[] => {
        const i = batch * 100 + k;
        return [
          { name: 'page_view', attributes: { page: `/flood/${word(i)}`, 'session.id': 'flood' } },
          { name: 'click', attributes: { 'user.action': `action_${word(i)}`, 'session.id': 'flood' } },
          { name: 'render', attributes: { 'session.id': 'flood' }, events: [{ name: 'exception', attributes: { 'exception.type': `Error${word(i)}`, 'exception.message': 'm' } }] },
          { name: 'HTTP', kind: 3, attributes: { 'http.request.method': methods[i % 7]!, 'url.full': `https://api.example/${word(i)}/list`, 'http.response.status_code': statuses[Math.floor(i / 7) % 5]!, 'session.id': 'flood' } },
          { name: 'web-vital', attributes: { 'browser.web_vital.name': vitals[i % 5]![0], 'browser.web_vital.value': vitals[i % 5]![1], 'browser.web_vital.rating': ratings[i % 3]!, page: `/v/${word(i)}` } },
        ];
      }).flat();
      // each request from a made-up environment and release too
      expect((await post(exporter.url, jsonRequest(spans, { resource: { 'deployment.environment.name': `env-${batch}`, 'service.version': `forged-${batch}` } }))).status).toBe(200);
    }
    // After the flood, real traffic on the declared routes.
    const real: JsonSpanInput[] = [
      { name: 'page_view', attributes: { page: '/menu/pizza' } },
      { name: 'HTTP GET', kind: 3, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.example/api/menu', 'http.response.status_code': 503 } },
      { name: 'web-vital', attributes: { 'browser.web_vital.name': 'LCP', 'browser.web_vital.value': 1200, page: '/menu/drinks' } },
    ];
    expect((await post(exporter.url, jsonRequest(real, { resource: { 'deployment.environment.name': 'production' } }))).status).toBe(200);
    await waitUntilSettled(exporter.pool);
    const body = (await exporter.get('/metrics')).body;
    const series = parseExposition(body);
    process.stdout.write(`label flood: ${series.size} samples, ${body.length} bytes in the whole scrape after 5,000 spans of 5,000 distinct values\n`);
    expect(series.size).toBeLessThanOrEqual(5_000);
    const count = (prefix: string) => [...series.keys()].filter((k) => k.startsWith(prefix)).length;
    expect(count('cc_page_views_total{page="/flood/')).toBe(200 - 1); // the budget, less the declared route's place
    expect(count('cc_api_request_duration_seconds_count{endpoint="/')).toBeLessThanOrEqual(100);
    const prod = 'service="web",env="production",release="unknown"';
    expect(series.get(`cc_page_views_total{page="/menu/:category",${prod}}`)).toBe(1);
    expect(series.get(`cc_api_request_duration_seconds_count{endpoint="/api/menu",method="GET",status_class="5xx",${prod}}`)).toBe(1);
    expect(series.get(`cc_web_vital_lcp_seconds_count{page="/menu/:category",rating="good",${prod}}`)).toBe(1);
    for (const family of ['cc_page_views_total', 'cc_user_actions_total', 'cc_frontend_errors_total', 'cc_api_request_duration_seconds', 'cc_web_vital_lcp_seconds']) {
      expect(series.get(`cc_label_overflow_total{family="${family}"}`), family).toBeGreaterThan(0);
    }
    expect(series.get('cc_page_views_total{page="other",service="other",env="other",release="other"}')).toBe(1000 - 200);
  });
});
