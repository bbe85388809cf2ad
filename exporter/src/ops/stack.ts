#!/usr/bin/env node
// `npm run stack`: the exporter on the embedded database, Prometheus and Alertmanager from the
// local (Debian) binaries with the project's configs, for a machine without Docker. Ctrl-C stops all.
// The configs are copies that point at localhost and at secret files in STACK_DIR; email and
// Slack work once those files hold a Resend API key and a Slack webhook URL.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEBIAN_PACKAGES, freePort, prometheusConfigCopy, startAlertmanager, startPrometheus, whichBinary, writeAlertmanagerConfigCopy, type RunningProcess,
} from './stack/processes.js';
import { opsSettingsOrExit } from './settings.js';

async function portOr(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

async function main(): Promise<void> {
  const settings = opsSettingsOrExit('npm run stack', { logLevel: true });
  if (typeof settings === 'number') process.exit(settings);

  const prometheusBinary = whichBinary('prometheus');
  const alertmanagerBinary = whichBinary('prometheus-alertmanager', 'alertmanager');
  const missing = [
    ...(prometheusBinary ? [] : ['prometheus']),
    ...(alertmanagerBinary ? [] : ['prometheus-alertmanager']),
  ];
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((m) => DEBIAN_PACKAGES[m] ?? m))].join(' ');
    console.error(`npm run stack: ${missing.join(' and ')} not found on PATH.\nInstall with: sudo apt-get install ${packages}`);
    process.exit(1);
  }

  const dir = settings.stackDir;
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  const secret = (name: string, value: string) => {
    const path = join(secrets, name);
    if (!existsSync(path)) writeFileSync(path, value, { mode: 0o600 });
    return path;
  };
  const hooksToken = secret('hooks-token', randomBytes(24).toString('hex'));
  const smtpPassword = secret('smtp-password', 're_replace_with_a_resend_api_key');
  const slackUrl = secret('slack-webhook-url', 'https://hooks.slack.com/services/REPLACE/ME/PLEASE');

  const exporterPort = await portOr(9464);
  const prometheusPort = await portOr(9090);
  const alertmanagerPort = await portOr(9093);
  const processes: { name: string; stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const p of processes.reverse()) await p.stop().catch(() => undefined);
  };

  const serverJs = fileURLToPath(new URL('../server.js', import.meta.url));
  const exporter = spawn(process.execPath, [serverJs], {
    env: { ...process.env, EXPORTER_HOST: '127.0.0.1', EXPORTER_PORT: String(exporterPort), HOOKS_AUTH_TOKEN_FILE: hooksToken, LOG_LEVEL: settings.logLevel ?? 'warn' },
    stdio: 'inherit',
  });
  processes.push({ name: 'exporter', stop: () => new Promise<void>((resolve) => (exporter.exitCode !== null ? resolve() : (exporter.once('exit', () => resolve()), exporter.kill('SIGTERM')))) });
  exporter.once('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`the exporter exited with code ${code}`);
  });

  try {
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, prometheusConfigCopy({
      exporter: `127.0.0.1:${exporterPort}`,
      alertmanager: `127.0.0.1:${alertmanagerPort}`,
      self: `127.0.0.1:${prometheusPort}`,
    }));
    const amConfig = writeAlertmanagerConfigCopy(join(dir, 'alertmanager'), {
      exporterUrl: `http://127.0.0.1:${exporterPort}`,
      smarthost: 'smtp.resend.com:587',
      secretsDir: secrets,
    });
    const alertmanager: RunningProcess = await startAlertmanager(alertmanagerBinary!, { configFile: amConfig, dataDir: join(dir, 'alertmanager-data'), port: alertmanagerPort });
    processes.push(alertmanager);
    const prometheus: RunningProcess = await startPrometheus(prometheusBinary!, { configFile: promConfig, dataDir: join(dir, 'prometheus-data'), port: prometheusPort });
    processes.push(prometheus);
    console.log(
      `\n  Connect Observability stack (Ctrl-C stops it)\n` +
        `  exporter:     http://127.0.0.1:${exporterPort}/metrics (embedded database, demo simulator)\n` +
        `  Prometheus:   ${prometheus.url}   alerts: ${prometheus.url}/alerts\n` +
        `  Alertmanager: ${alertmanager.url}\n` +
        `  configs and data: ${dir}\n` +
        `  email and Slack: put a Resend API key in ${smtpPassword} and a Slack webhook URL in ${slackUrl}\n` +
        `  (no trailing newline), set the recipient in alertmanager/alertmanager.yml, and restart.\n`,
    );
  } catch (err) {
    console.error(`npm run stack: ${(err as Error).message}`);
    await stopAll();
    process.exit(1);
  }

  const shutdown = async () => {
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((err: unknown) => {
  console.error(`npm run stack: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
