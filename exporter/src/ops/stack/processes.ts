// Running the real Prometheus and Alertmanager binaries on loopback with the project's configs:
// used by `npm run stack` and by the end-to-end tests. Copies of the configs change only host
// names and ports, timing values and secret-file paths, each replacement checked to apply, so
// routes, receivers, matchers and rules stay the project's own.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../paths.js';

const root = repoRoot;

export const repoPaths = {
  root,
  prometheusConfig: join(root, 'prometheus/prometheus.yml'),
  rules: join(root, 'prometheus/rules'),
  ruleTests: join(root, 'prometheus/tests'),
  alertmanagerConfig: join(root, 'alertmanager/alertmanager.yml'),
  alertmanagerTemplates: join(root, 'alertmanager/templates'),
};

/** The first of the names found on PATH, or undefined. */
export function whichBinary(...names: string[]): string | undefined {
  for (const name of names) {
    const found = (spawnSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout ?? '').trim();
    if (found) return found;
  }
  return undefined;
}

/** The Debian package of each binary, for "install it with" messages. */
export const DEBIAN_PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A text replacement that must apply at least once; a config change that breaks it fails loudly. */
export function replaceChecked(text: string, pattern: RegExp, replacement: string, what: string): string {
  if (!pattern.test(text)) throw new Error(`cannot template ${what}: ${pattern} is not in the config any more`);
  pattern.lastIndex = 0;
  return text.replace(pattern, replacement);
}

export interface PrometheusCopy {
  /** host:port of the exporter, or of each replica */
  exporter: string | string[];
  /** host:port of Alertmanager, or of each peer of a cluster (Prometheus sends to every one) */
  alertmanager: string | string[];
  self: string;
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** rule files to load; default: the project's prometheus/rules/*.yml */
  ruleFiles?: string[];
}

/** prometheus.yml with other targets (and intervals, rule file paths); everything else as is. */
export function prometheusConfigCopy(options: PrometheusCopy): string {
  let text = readFileSync(repoPaths.prometheusConfig, 'utf8');
  const targets = (t: string | string[]) => [t].flat().map((host) => `'${host}'`).join(', ');
  text = replaceChecked(text, /'exporter:9464'/g, targets(options.exporter), 'the exporter target');
  text = replaceChecked(text, /'alertmanager:9093'/g, targets(options.alertmanager), 'the Alertmanager target');
  text = replaceChecked(text, /'localhost:9090'/g, `'${options.self}'`, 'the Prometheus target');
  if (options.scrapeInterval) text = replaceChecked(text, /^( +scrape_interval:) .*$/gm, `$1 ${options.scrapeInterval}`, 'scrape_interval');
  if (options.evaluationInterval) text = replaceChecked(text, /^( {2}evaluation_interval:) .*$/m, `$1 ${options.evaluationInterval}`, 'evaluation_interval');
  if (options.scrapeInterval) text = replaceChecked(text, /^( {4}scrape_timeout:) .*$/m, `$1 ${options.scrapeInterval}`, 'scrape_timeout');
  const ruleFiles = options.ruleFiles ?? [join(repoPaths.rules, '*.yml')];
  text = replaceChecked(text, /^rule_files:\n(?: {2}- .*\n)+/m, `rule_files:\n${ruleFiles.map((f) => `  - ${f}\n`).join('')}`, 'rule_files');
  return text;
}

export interface AlertmanagerCopy {
  /** base URL of the exporter whose webhooks Alertmanager calls */
  exporterUrl: string;
  /** host:port of the SMTP server */
  smarthost: string;
  /** directory holding smtp-password, slack-webhook-url and hooks-token */
  secretsDir: string;
  /** shorter group_wait / group_interval for tests; routes, receivers and matchers stay */
  timing?: { groupWait: string; groupInterval: string };
}

/**
 * alertmanager.yml with the exporter's URL, the SMTP host, the secret-file directory and
 * (for tests) the grouping timers replaced; written with the project's templates beside it.
 */
export function writeAlertmanagerConfigCopy(dir: string, options: AlertmanagerCopy): string {
  let text = readFileSync(repoPaths.alertmanagerConfig, 'utf8');
  text = replaceChecked(text, /http:\/\/exporter:9464/g, options.exporterUrl, 'the exporter webhook URLs');
  text = replaceChecked(text, /^( {2}smtp_smarthost:) .*$/m, `$1 ${options.smarthost}`, 'smtp_smarthost');
  text = replaceChecked(text, /\/etc\/alertmanager\/secrets\//g, `${options.secretsDir.replace(/\/?$/, '/')}`, 'the secret-file paths');
  if (options.timing) {
    text = replaceChecked(text, /^(\s+group_wait:) .*$/gm, `$1 ${options.timing.groupWait}`, 'group_wait');
    text = replaceChecked(text, /^(\s+group_interval:) .*$/gm, `$1 ${options.timing.groupInterval}`, 'group_interval');
  }
  mkdirSync(dir, { recursive: true });
  cpSync(repoPaths.alertmanagerTemplates, join(dir, 'templates'), { recursive: true });
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, text);
  return file;
}

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  url: string;
  /** what the process wrote so far (stdout and stderr) */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a binary and waits until GET url/-/ready answers 200. */
export async function startReadyProcess(
  name: string,
  binary: string,
  args: string[],
  url: string,
  { env = {}, timeoutMs = 30_000 }: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunningProcess> {
  const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stop = async () => {
    if (exited || child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(killer);
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${name} exited while starting:\n${output.slice(-4000)}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${output.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name, child, url, output: () => output, stop };
}

export async function startPrometheus(binary: string, { configFile, dataDir, port }: { configFile: string; dataDir: string; port: number }): Promise<RunningProcess> {
  const url = `http://127.0.0.1:${port}`;
  return startReadyProcess(`prometheus :${port}`, binary, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    '--web.enable-lifecycle',
    // Firing alerts are re-sent to Alertmanager this often (default 1m).
    '--rules.alert.resend-delay=1s',
  ], url);
}

export interface AlertmanagerCluster {
  /** this peer's gossip port on 127.0.0.1 */
  port: number;
  /** the other peers, host:port of their gossip ports */
  peers: string[];
  /** how long a peer waits for the ones before it to notify (default 15s), e.g. shorter with shorter rule windows */
  peerTimeout?: string;
}

export async function startAlertmanager(
  binary: string,
  { configFile, dataDir, port, env, cluster }: { configFile: string; dataDir: string; port: number; env?: Record<string, string>; cluster?: AlertmanagerCluster },
): Promise<RunningProcess> {
  const url = `http://127.0.0.1:${port}`;
  const clustering = cluster
    ? [`--cluster.listen-address=127.0.0.1:${cluster.port}`, `--cluster.advertise-address=127.0.0.1:${cluster.port}`, ...cluster.peers.map((p) => `--cluster.peer=${p}`), ...(cluster.peerTimeout ? [`--cluster.peer-timeout=${cluster.peerTimeout}`] : [])]
    : ['--cluster.listen-address=']; // an empty address turns clustering off: a single instance, no gossip port
  return startReadyProcess(cluster ? `alertmanager :${port}` : 'alertmanager', binary, [
    `--config.file=${configFile}`,
    `--storage.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    ...clustering,
  ], url, { env });
}
