// Grafana's provisioning: the three datasources with the fixed uids the dashboards use, the
// Postgres one as the read-only role with its password from a file, and the dashboards provider.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repo = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');
const yaml = <T>(path: string): T => parse(read(path)) as T;

interface Datasource {
  name: string;
  uid: string;
  type: string;
  access?: string;
  url?: string;
  user?: string;
  password?: string;
  isDefault?: boolean;
  editable?: boolean;
  jsonData?: Record<string, unknown>;
  secureJsonData?: Record<string, unknown>;
}

const { apiVersion, datasources } = yaml<{ apiVersion: number; datasources: Datasource[] }>(
  'grafana/provisioning/datasources/datasources.yml',
);
const byUid = (uid: string): Datasource => {
  const ds = datasources.find((d) => d.uid === uid);
  if (!ds) throw new Error(`no datasource with uid ${uid}`);
  return ds;
};

describe('grafana/provisioning/datasources/datasources.yml', () => {
  it('defines exactly the three datasources, by their fixed uids and types', () => {
    expect(apiVersion).toBe(1);
    expect(datasources.map((d) => [d.uid, d.type]).sort()).toEqual([
      ['cc-alertmanager', 'alertmanager'],
      ['cc-postgres', 'grafana-postgresql-datasource'],
      ['cc-prometheus', 'prometheus'],
    ]);
    expect(new Set(datasources.map((d) => d.name)).size).toBe(3);
    for (const ds of datasources) {
      expect(ds.access, ds.uid).toBe('proxy');
      expect(ds.editable, ds.uid).toBe(false);
    }
  });

  it('Prometheus is the default, at the compose host, with the scrape interval of prometheus.yml', () => {
    const prom = byUid('cc-prometheus');
    expect(prom.url).toBe('http://prometheus:9090');
    expect(datasources.filter((d) => d.isDefault).map((d) => d.uid)).toEqual(['cc-prometheus']);
    const scrapeInterval = yaml<{ global: { scrape_interval: string } }>('prometheus/prometheus.yml').global.scrape_interval;
    expect(prom.jsonData?.timeInterval).toBe(scrapeInterval);
  });

  it('Alertmanager is the Prometheus implementation, at the host prometheus.yml sends alerts to', () => {
    const am = byUid('cc-alertmanager');
    expect(am.jsonData).toMatchObject({ implementation: 'prometheus', handleGrafanaManagedAlerts: false });
    const targets = yaml<{ alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] } }>('prometheus/prometheus.yml')
      .alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets));
    expect(targets.map((t) => `http://${t}`)).toContain(am.url);
  });

  it('Postgres is the read-only role cc_grafana, its password only from a file', () => {
    const pg = byUid('cc-postgres');
    // GRAFANA_PG_USER: cc_grafana unless set (cc_grafana.<project-ref> through Supabase's pooler).
    expect(pg.user).toBe('${GRAFANA_PG_USER}');
    expect(read('docker-compose.yml')).toContain('GRAFANA_PG_USER: ${GRAFANA_PG_USER:-cc_grafana}');
    expect(read('.env.example')).toMatch(/^GRAFANA_PG_USER=cc_grafana$/m);
    expect(read('sql/migrations/001_roles.sql')).toMatch(/ALTER ROLE cc_grafana SET default_transaction_read_only = on/);
    expect(pg.password).toBeUndefined();
    expect(Object.keys(pg.secureJsonData ?? {})).toEqual(['password']);
    expect(pg.secureJsonData?.password).toMatch(/^\$__file\{\/run\/secrets\/[a-z0-9-]+\}$/);
    expect(pg.jsonData).toMatchObject({ postgresVersion: 1500, timescaledb: false });
    expect(pg.jsonData?.database).toEqual(expect.any(String));
    expect(pg.jsonData?.sslmode).toEqual(expect.any(String));
    expect(pg.jsonData?.maxOpenConns).toBeGreaterThan(0);
    expect(pg.jsonData?.maxOpenConns).toBeLessThanOrEqual(10);
  });

  it('holds no literal secret: every password or token is a $__file reference', () => {
    const secretish = /pass|token|secret|key/i;
    const walk = (value: unknown, path: string): void => {
      if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
      } else if (secretish.test(path.split('.').pop() ?? '')) {
        expect(String(value), path).toMatch(/^\$__file\{[^}]+\}$/);
      }
    };
    walk(datasources, 'datasources');
  });
});

describe('grafana/provisioning/dashboards/dashboards.yml', () => {
  interface Provider {
    name: string;
    type: string;
    folder: string;
    disableDeletion: boolean;
    allowUiUpdates: boolean;
    options: { path: string; foldersFromFilesStructure: boolean };
  }
  const { apiVersion: version, providers } = yaml<{ apiVersion: number; providers: Provider[] }>(
    'grafana/provisioning/dashboards/dashboards.yml',
  );

  it('one file provider loads the generated dashboards into the folder Connect, read-only', () => {
    expect(version).toBe(1);
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({
      type: 'file',
      folder: 'Connect',
      disableDeletion: true,
      allowUiUpdates: false,
      options: { foldersFromFilesStructure: false },
    });
  });

  it('its path is where docker-compose.yml mounts grafana/dashboards/', () => {
    const compose = yaml<{ services: { grafana: { volumes: string[] } } }>('docker-compose.yml');
    const mount = compose.services.grafana.volumes.find((v) => v.startsWith('./grafana/dashboards:'));
    expect(mount).toBe(`./grafana/dashboards:${providers[0]?.options.path}:ro`);
  });
});
