// docker-compose.yml: valid for Debian's docker-compose (skipped where it is not installed,
// required in CI), and the rules a reviewer would check by eye: healthchecks, pinned images,
// Grafana locked down, secrets only from files that scripts/init-secrets.sh creates, mounts that
// exist, ports on loopback, and every variable documented in .env.example.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTool } from '../exporter/test/support/tools.js';

const repoDir = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string): string => readFileSync(join(repoDir, path), 'utf8');

type SecretRef = string | { source: string; target?: string };
interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string>;
  secrets?: SecretRef[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as Compose;
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};
const secretName = (ref: SecretRef): string => (typeof ref === 'string' ? ref : ref.source);
/** Where a secret is inside the container: /run/secrets/<name> unless an absolute target says otherwise. */
const secretPath = (ref: SecretRef): string =>
  typeof ref !== 'string' && ref.target?.startsWith('/') ? ref.target : `/run/secrets/${typeof ref === 'string' ? ref : (ref.target ?? ref.source)}`;
const mountedSecrets = (s: Service): string[] => (s.secrets ?? []).map(secretPath);

/** Services something waits for to finish: the one-shots. */
const oneShots = new Set(
  services.flatMap(([, s]) => Object.entries(s.depends_on ?? {}).filter(([, d]) => d.condition === 'service_completed_successfully').map(([n]) => n)),
);

/** A full version: major.minor and a patch where the project has one (Postgres has none). */
const PINNED = /^[a-z0-9./_-]+:v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/;

describe('docker-compose.yml', () => {
  it('has the whole stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['alertmanager', 'db-roles', 'exporter', 'grafana', 'mailpit', 'migrate', 'postgres', 'prometheus'].sort(),
    );
  });

  it('every long-running service has a healthcheck; the rest are one-shots something waits for', () => {
    for (const [name, s] of services) {
      if (oneShots.has(name)) {
        expect(s.restart, name).toBe('no');
        expect(s.healthcheck, name).toBeUndefined();
      } else {
        expect(s.restart, name).toBe('unless-stopped');
        expect(s.healthcheck?.test, name).toBeDefined();
        expect(['CMD', 'CMD-SHELL'], name).toContain((s.healthcheck?.test as string[])[0]);
      }
    }
    expect([...oneShots].sort()).toEqual(['db-roles', 'migrate']);
  });

  it('every dependency waits for health or completion, never just a start', () => {
    for (const [name, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(compose.services[dep], `${name} -> ${dep}`).toBeDefined();
        expect(condition, `${name} -> ${dep}`).toBe(oneShots.has(dep) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    // The order the database needs: migrations, then the role passwords, then its clients.
    expect(service('migrate').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(service('db-roles').depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(service('exporter').depends_on?.['db-roles']?.condition).toBe('service_completed_successfully');
    expect(service('grafana').depends_on?.['db-roles']?.condition).toBe('service_completed_successfully');
  });

  it('every image is pinned to a version; built images come from a pinned base', () => {
    for (const [name, s] of services) {
      const image = s.image ?? '';
      if (s.build) {
        expect(image, name).toMatch(/^connect-observability\/exporter:\$\{EXPORTER_IMAGE_TAG:-local\}$/);
      } else {
        expect(image, name).toMatch(PINNED);
        expect(image, name).not.toMatch(/latest/);
      }
    }
    const froms = read('exporter/Dockerfile').split('\n').filter((l) => /^FROM /i.test(l)).map((l) => l.split(/\s+/)[1] ?? '');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // One Node.js image for every stage: the current LTS line, pinned to a release.
    expect(new Set(froms).size).toBe(1);
    for (const from of froms) expect(from).toMatch(/^node:26\.\d+\.\d+-trixie-slim$/);
    expect(read('exporter/Dockerfile')).toMatch(/^USER node$/m);
  });

  it('Grafana: no anonymous access, no sign-up, the admin password from a mounted secret', () => {
    const env = service('grafana').environment ?? {};
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(mountedSecrets(service('grafana'))).toContain(env.GF_SECURITY_ADMIN_PASSWORD__FILE);
  });

  it('Grafana mounts the provisioning and the dashboards read-only, and sets every variable the datasources read', () => {
    const volumes = service('grafana').volumes ?? [];
    expect(volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(volumes.some((v) => v.startsWith('./grafana/dashboards:') && v.endsWith(':ro'))).toBe(true);
    // The values only (comments may mention ${VAR} too).
    const datasources = JSON.stringify(parse(read('grafana/provisioning/datasources/datasources.yml')));
    const used = [...datasources.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(service('grafana').environment ?? {}), name).toContain(name);
    const files = [...datasources.matchAll(/\$__file\{([^}]+)\}/g)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(mountedSecrets(service('grafana'))).toContain(file);
  });

  it('every bind mount is a path of this repository, read-only', () => {
    let binds = 0;
    for (const [name, s] of services) {
      for (const volume of s.volumes ?? []) {
        const [source = '', target, mode] = volume.split(':');
        if (source.startsWith('./')) {
          binds++;
          expect(existsSync(join(repoDir, source)), `${name}: ${source}`).toBe(true);
          expect(mode, `${name}: ${volume}`).toBe('ro');
        } else {
          expect(Object.keys(compose.volumes), `${name}: ${volume} is a named volume`).toContain(source);
          expect(target, volume).toMatch(/^\//);
        }
      }
    }
    expect(binds).toBeGreaterThanOrEqual(5);
    expect(service('prometheus').volumes).toEqual(
      expect.arrayContaining(['./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro', './prometheus/rules:/etc/prometheus/rules:ro']),
    );
  });

  it('every named volume is used', () => {
    const used = services.flatMap(([, s]) => (s.volumes ?? []).map((v) => v.split(':')[0]));
    for (const volume of Object.keys(compose.volumes)) expect(used).toContain(volume);
  });

  it('secrets: declared, files under ./secrets/, each used, and every path a service reads is mounted', () => {
    const declared = Object.keys(compose.secrets);
    for (const [name, { file }] of Object.entries(compose.secrets)) expect(file).toBe(`./secrets/${name}`);
    const used = new Set(services.flatMap(([, s]) => (s.secrets ?? []).map(secretName)));
    expect([...used].sort()).toEqual([...declared].sort());
    for (const [name, s] of services) {
      const mounted = mountedSecrets(s);
      // *_FILE variables and $(cat /run/secrets/…) in commands.
      const text = JSON.stringify([s.environment ?? {}, s.command ?? [], s.entrypoint ?? []]);
      for (const [, path] of text.matchAll(/(\/run\/secrets\/[a-z0-9-]+)/g)) expect(mounted, `${name} reads ${path}`).toContain(path);
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (key.endsWith('_FILE') && value !== '' && !value.startsWith('${')) expect(mounted, `${name}: ${key}`).toContain(value);
      }
    }
  });

  it('Alertmanager gets every file alertmanager.yml reads as a secret at that path', () => {
    const paths = [...read('alertmanager/alertmanager.yml').matchAll(/_file:\s*(\S+)/g)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    for (const path of paths) expect(mountedSecrets(service('alertmanager'))).toContain(path);
    // Its webhooks reach the exporter by the compose service name and port.
    expect(read('alertmanager/alertmanager.yml')).toMatch(/url: http:\/\/exporter:9464\/hooks\//);
  });

  it('no secret value in an environment variable', () => {
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|TOKEN|SECRET|API_KEY|DATABASE_URL/.test(key) && !/_FILE$/.test(key)) {
          expect.fail(`${name}: ${key}=${value} puts a secret in the environment; use ${key}_FILE and a secret`);
        }
      }
    }
  });

  it('every published port binds to ${BIND_ADDRESS:-127.0.0.1}, on the ports of docs/stack.md', () => {
    const published: Record<string, string> = {};
    for (const [name, s] of services) {
      for (const port of s.ports ?? []) {
        expect(port, name).toMatch(/^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\$\{[A-Z_]+:-\d+\}:\d+$/);
        published[name] = port.replace(/^.*:-(\d+)\}:(\d+)$/, '$1:$2');
      }
    }
    expect(published).toEqual({
      exporter: '9464:9464',
      prometheus: '9090:9090',
      alertmanager: '9093:9093',
      grafana: '3000:3000',
      postgres: '5432:5432',
      mailpit: '8025:8025',
    });
  });

  it('prometheus.yml scrapes the exporter and sends alerts where compose runs them', () => {
    const prom = read('prometheus/prometheus.yml');
    expect(prom).toMatch(/targets: \['exporter:9464'\]/);
    expect(prom).toMatch(/targets: \['alertmanager:9093'\]/);
  });

  it('every variable it reads is in .env.example with the same default, and .env.example has nothing else', () => {
    const vars = new Map<string, string>();
    for (const [, name, fallback] of composeText.matchAll(/(?<!\$)\$\{(\w+)(?::-([^}]*))?\}/g)) {
      expect(fallback, `\${${name}} needs a default`).toBeDefined();
      if (vars.has(name!)) expect(fallback, `${name} has two defaults`).toBe(vars.get(name!));
      vars.set(name!, fallback!);
    }
    const example = new Map(
      read('.env.example')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    expect([...example.keys()].sort()).toEqual([...vars.keys()].sort());
    for (const [name, fallback] of vars) expect(example.get(name), name).toBe(fallback);
  });

  it('migrate runs cc-ops migrate, with the dev schema only when MIGRATE_DEV=true', () => {
    const command = (service('migrate').command as string[]).join(' ');
    expect(command).toContain('node exporter/dist/ops/ops.js migrate');
    expect(command).toMatch(/\$\$MIGRATE_DEV" = true \]; then set -- --dev/);
    expect(existsSync(join(repoDir, 'exporter/src/ops/ops.ts'))).toBe(true);
    expect(read('exporter/src/ops/ops.ts')).toMatch(/migrate:/);
  });
});

describe('docker-compose config (Debian docker-compose)', () => {
  const tool = findTool('docker-compose');
  // A clean environment: compose lets the shell's variables override the env file.
  const run = (envFile: string) =>
    spawnSync('docker-compose', ['--env-file', envFile, '-f', 'docker-compose.yml', 'config'], {
      cwd: repoDir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
    });

  it.skipIf(tool.skip)('validates with .env.example and with no settings at all; ports stay on loopback', () => {
    const empty = mkdtempSync(join(tmpdir(), 'cc-compose-'));
    try {
      writeFileSync(join(empty, 'env'), '');
      for (const envFile of [join(repoDir, '.env.example'), join(empty, 'env')]) {
        const result = run(envFile);
        expect(result.stderr, envFile).not.toMatch(/ERROR|invalid|Unsupported/i);
        expect(result.status, `${envFile}\n${result.stderr}`).toBe(0);
        const resolved = parse(result.stdout) as { services: Record<string, { image?: string; ports?: (string | { host_ip?: string })[] }> };
        expect(Object.keys(resolved.services)).toHaveLength(services.length);
        for (const [name, s] of Object.entries(resolved.services)) {
          if (s.image && !compose.services[name]?.build) expect(s.image, name).toMatch(PINNED);
          for (const port of s.ports ?? []) {
            const hostIp = typeof port === 'string' ? port.split(':')[0] : port.host_ip;
            expect(hostIp, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
          }
        }
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(tool.skip)('rejects a broken file (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-compose-'));
    try {
      writeFileSync(join(dir, 'docker-compose.yml'), composeText.replace('condition: service_healthy', 'condition: when_it_feels_like_it'));
      const result = spawnSync('docker-compose', ['-f', join(dir, 'docker-compose.yml'), 'config', '-q'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
      });
      expect(result.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/init-secrets.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secrets = join(dir, 'secrets');
  const runScript = () =>
    execFileSync('sh', [join(repoDir, 'scripts/init-secrets.sh')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SECRETS_DIR: secrets, POSTGRES_DB: 'connect' },
    });
  const secret = (name: string) => readFileSync(join(secrets, name), 'utf8');

  it('creates every secret docker-compose.yml declares, readable by the containers, in a private folder', () => {
    runScript();
    expect(readdirSync(secrets).sort()).toEqual(Object.keys(compose.secrets).sort());
    expect(statSync(secrets).mode & 0o777).toBe(0o700);
    for (const name of Object.keys(compose.secrets)) {
      const value = secret(name);
      expect(value, name).not.toBe('');
      expect(value, name).not.toMatch(/\s$/);
      expect(statSync(join(secrets, name)).mode & 0o777, name).toBe(0o644);
    }
    expect(secret('postgres-password')).toMatch(/^[0-9a-f]{48}$/);
    expect(secret('grafana-admin-password')).not.toBe(secret('postgres-password'));
  });

  it('the connection strings carry the passwords of the roles they name', () => {
    const exporter = new URL(secret('exporter-database-url'));
    expect([exporter.username, exporter.password, exporter.host, exporter.pathname]).toEqual([
      'cc_exporter',
      secret('cc-exporter-db-password'),
      'postgres:5432',
      '/connect',
    ]);
    const owner = new URL(secret('migrate-database-url'));
    expect([owner.username, owner.password, owner.host]).toEqual(['postgres', secret('postgres-password'), 'postgres:5432']);
  });

  it('never overwrites an existing secret', () => {
    writeFileSync(join(secrets, 'grafana-admin-password'), 'chosen-by-hand');
    rmSync(join(secrets, 'hooks-token'));
    const before = secret('postgres-password');
    expect(runScript()).toMatch(/created in .*: hooks-token/);
    expect(secret('grafana-admin-password')).toBe('chosen-by-hand');
    expect(secret('postgres-password')).toBe(before);
  });
});

describe('alertmanager/compose-entrypoint.sh', () => {
  const amtool = findTool('amtool');
  const dir = mkdtempSync(join(tmpdir(), 'cc-am-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // A stand-in Alertmanager that prints how it was started; amtool is the real one where installed.
  writeFileSync(join(bin, 'alertmanager'), '#!/bin/sh\necho "alertmanager $*"\n');
  chmodSync(join(bin, 'alertmanager'), 0o755);
  if (amtool.skip) {
    writeFileSync(join(bin, 'amtool'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'amtool'), 0o755);
  }
  const start = (env: Record<string, string>) =>
    spawnSync('sh', [join(repoDir, 'alertmanager/compose-entrypoint.sh'), '--storage.path=/alertmanager'], {
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        CONFIG_DIR: join(repoDir, 'alertmanager'),
        RENDER_DIR: join(dir, 'out'),
        SMTP_SMARTHOST: 'mailpit:1025',
        SMTP_REQUIRE_TLS: 'false',
        EMAIL_FROM: 'Connect alerts <alerts@example.com>',
        EMAIL_TO: 'team@example.org',
        ...env,
      },
    });

  it('renders alertmanager.yml with the local mail settings, checks it and starts Alertmanager on it', () => {
    const result = start({});
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(`alertmanager --config.file=${join(dir, 'out')}/alertmanager.yml --storage.path=/alertmanager`);
    const rendered = parse(readFileSync(join(dir, 'out/alertmanager.yml'), 'utf8')) as {
      global: Record<string, unknown>;
      receivers: { name: string; email_configs?: { to: string }[] }[];
    };
    const original = parse(read('alertmanager/alertmanager.yml')) as typeof rendered;
    expect(rendered.global).toEqual({ ...original.global, smtp_smarthost: 'mailpit:1025', smtp_require_tls: false });
    const recipients = rendered.receivers.flatMap((r) => (r.email_configs ?? []).map((e) => e.to));
    expect(recipients.length).toBeGreaterThan(0);
    expect(new Set(recipients)).toEqual(new Set(['team@example.org']));
    expect(readdirSync(join(dir, 'out/templates'))).toEqual(readdirSync(join(repoDir, 'alertmanager/templates')));
  });

  it('refuses a setting it cannot write safely', () => {
    expect(start({ SMTP_REQUIRE_TLS: 'yes' }).status).toBe(2);
    expect(start({ EMAIL_TO: "o'neil@example.com" }).status).toBe(2);
    expect(start({ SMTP_SMARTHOST: '' }).status).toBe(2);
  });
});
