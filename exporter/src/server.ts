#!/usr/bin/env node
// The exporter process: configuration, database (the server's, or the embedded one when
// DATABASE_URL is unset), HTTP listener and graceful shutdown.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, redactUrl, type Config } from './config.js';
import { startDemoDatabase } from './demo-database.js';
import { EmbeddedUnavailableError, type EmbeddedDatabase } from './embedded.js';
import { createExporter } from './exporter.js';
import { createLogger, type Logger } from './log.js';
import { startSimulator, type Simulator } from './simulator.js';
import { version } from './version.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cc-exporter: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);
  // Signals are caught from the start: one that arrives while the process starts (or just as it
  // announces itself) waits for the shutdown below, instead of killing it without one.
  const signals: { handler?: (signal: string) => void; pending?: string } = {};
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      if (signals.handler) signals.handler(signal);
      else signals.pending ??= signal;
    });
  }

  let embedded: EmbeddedDatabase | undefined;
  let connectionString = config.databaseUrl;
  if (connectionString === undefined) {
    embedded = await startEmbedded(config, logger);
    connectionString = embedded.connectionString;
  }

  // PGlite is a single session: one pooled connection serialises everything that uses it.
  const exporterConfig = embedded ? { ...config, db: { ...config.db, poolMax: 1 } } : config;
  const { app, publicApp, pool, scraper, maintenance, reconciler } = createExporter(exporterConfig, connectionString, logger);
  // A first refresh now, not at the first scrape: the event cursor starts at process start.
  void scraper.refresh();
  maintenance.start();
  reconciler.start();

  let simulator: Simulator | undefined;
  if (embedded && config.embedded.simulator) {
    simulator = startSimulator(pool, { intervalMs: config.embedded.simulatorIntervalMs, logger });
  }

  const server = app.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // OTLP_PORT: the browsers' /v1/traces on a listener of its own, the rest stays private.
  const publicServer = publicApp && config.otlp.port !== undefined ? publicApp.listen(config.otlp.port, config.host) : undefined;
  if (publicServer) await once(publicServer, 'listening');
  const servers = publicServer ? [server, publicServer] : [server];
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  logger.info(
    {
      metrics: `http://${shownHost}:${port}/metrics`,
      health: `http://${shownHost}:${port}/healthz`,
      ready: `http://${shownHost}:${port}/readyz`,
      ...(publicServer ? { traces: `http://${shownHost}:${(publicServer.address() as AddressInfo).port}/v1/traces` } : {}),
      database: embedded ? `embedded (${config.embedded.dataDir ?? 'in memory'})` : redactUrl(connectionString),
    },
    'cc-exporter listening',
  );
  process.stdout.write(
    `\n  Connect Observability exporter ${version}\n` +
      `  metrics:  http://${shownHost}:${port}/metrics\n` +
      `  health:   http://${shownHost}:${port}/healthz   ready: http://${shownHost}:${port}/readyz\n` +
      (publicServer ? `  traces:   http://${shownHost}:${(publicServer.address() as AddressInfo).port}/v1/traces (public listener; not on ${port})\n` : '') +
      `  database: ${embedded ? `embedded PGlite (${config.embedded.dataDir ?? 'in memory; set EMBEDDED_DATA_DIR to keep it'})${simulator ? ', demo simulator on' : ''}` : redactUrl(connectionString)}\n` +
      (embedded ? `  DEMO: DATABASE_URL is not set, so this serves ${simulator ? 'invented orders and events' : 'an embedded database'}, not your app's; set DATABASE_URL to monitor your app\n` : '') +
      config.warnings.map((w) => `  warning: ${w}\n`).join('') +
      '\n',
  );
  // One JSON line per listener, {"msg":"listening","listener":"main"|"otlp","host","port","url"}:
  // how a supervisor (and the tests) learns the port EXPORTER_PORT=0 picked without reading the
  // banner meant for people. After the banner, so a reader that waits for them has it too. Their
  // level is info (a start is no problem: a pipeline that pages on warn and above never sees
  // them), but they are printed at every LOG_LEVEL except silent, as the banner is at every level:
  // an operator who sets warn asks to hide a running exporter's chatter, not where it serves;
  // one who sets silent asks for no log at all.
  const announce = config.logLevel === 'silent' ? logger : logger.child({}, { level: 'info' });
  const listeners = publicServer ? { main: server, otlp: publicServer } : { main: server };
  for (const [listener, s] of Object.entries(listeners)) {
    const listening = (s.address() as AddressInfo).port;
    announce.info({ listener, host: config.host, port: listening, url: `http://${shownHost}:${listening}` }, 'listening');
  }
  if (embedded) logger.warn('DEMO: DATABASE_URL is not set: serving the embedded demo database, not your app');

  let stopping = false;
  for (const s of servers) {
    s.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (stopping) res.setHeader('Connection', 'close');
    });
  }
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    // Stop accepting, let the requests in flight finish (a 2xx means their rows are committed,
    // so the pool stays open until they are answered), close keep-alive connections as soon as
    // they are idle, and ask clients on them to reconnect (Connection: close): then end the pool.
    const drained = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of servers) s.closeIdleConnections();
    const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
    await drained;
    clearInterval(sweep);
    await simulator?.stop();
    await reconciler.stop();
    await maintenance.stop();
    await pool.end().catch(() => undefined);
    await embedded?.stop().catch((err: Error) => logger.warn({ err: err.message }, 'embedded database did not stop cleanly'));
    logger.info('stopped');
    process.exit(0);
  };
  signals.handler = (signal) => void shutdown(signal);
  if (signals.pending !== undefined) signals.handler(signals.pending);
}

async function startEmbedded(config: Config, logger: Logger): Promise<EmbeddedDatabase> {
  // The one human line before the banner: the embedded database takes a second or two, the first
  // start on a machine a few more (it keeps a template for the next ones).
  process.stdout.write('  DATABASE_URL is not set: starting the embedded demo database (PGlite)...\n');
  logger.info({ dataDir: config.embedded.dataDir ?? null }, 'no DATABASE_URL: starting the embedded database');
  const started = performance.now();
  const embedded = await startDemoDatabase({ dataDir: config.embedded.dataDir, seed: true, logger });
  logger.info({ source: embedded.source, ms: Math.round(performance.now() - started) }, 'embedded database ready');
  return embedded;
}

main().catch((err: unknown) => {
  process.stderr.write(`cc-exporter: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof EmbeddedUnavailableError ? 2 : 1);
});
