// Local recording stand-ins for what Alertmanager and the SMS bridge talk to: an SMTP server
// (with STARTTLS and AUTH PLAIN, as Resend's relay), a Slack incoming webhook and Twilio's
// Messages API. Each records what arrived, with the time it arrived, for tests to wait on.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export interface Recorded<T> {
  at: number;
  value: T;
}

export interface Sink<T> {
  url: string;
  port: number;
  received: Recorded<T>[];
  /** resolves with the first recorded item matching, waiting up to timeoutMs */
  waitFor(match: (item: T) => boolean, timeoutMs: number, what: string): Promise<Recorded<T>>;
  close(): Promise<void>;
}

function recorder<T>(): Pick<Sink<T>, 'received' | 'waitFor'> & { record(value: T): void } {
  const received: Recorded<T>[] = [];
  const waiters = new Set<() => void>();
  return {
    received,
    record(value) {
      received.push({ at: Date.now(), value });
      for (const wake of waiters) wake();
    },
    waitFor(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find((r) => match(r.value));
          if (!found) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${received.length}: ${JSON.stringify(received.map((r) => r.value)).slice(0, 2000)}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
  };
}

async function listen(server: Server | net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function closeServer(server: Server | net.Server): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---- Slack -------------------------------------------------------------------------------

export interface SlackMessage {
  path: string;
  body: Record<string, unknown>;
  /** every text of the message and its attachments, joined, for content checks */
  text: string;
}

export async function startSlackSink(): Promise<Sink<SlackMessage>> {
  const rec = recorder<SlackMessage>();
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      res.writeHead(400).end('invalid_payload');
      return;
    }
    rec.record({ path: req.url ?? '', body, text: collectText(body) });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
  });
  const port = await listen(server);
  return { ...rec, port, url: `http://127.0.0.1:${port}/services/T000/B000/slack-sink`, close: () => closeServer(server) };
}

function collectText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(collectText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(collectText).join('\n');
  return '';
}

// ---- Twilio ------------------------------------------------------------------------------

export interface TwilioMessage {
  accountSid: string;
  /** user:password of the basic auth */
  auth: string;
  to: string;
  from: string;
  body: string;
}

export interface TwilioSink extends Sink<TwilioMessage> {
  /** answer the next n requests with this status (e.g. 503) instead of accepting them */
  failNext(n: number, status?: number): void;
  /** every request, failed ones included */
  requests: number;
}

export async function startTwilioSink(): Promise<TwilioSink> {
  const rec = recorder<TwilioMessage>();
  let failures = 0;
  let failStatus = 503;
  const sink = {
    ...rec,
    requests: 0,
    failNext(n: number, status = 503) {
      failures = n;
      failStatus = status;
    },
  };
  const server = createServer(async (req, res) => {
    sink.requests++;
    const raw = await readBody(req);
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || !match) return json(404, { code: 20404, message: 'The requested resource was not found' });
    const auth = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
    if (!auth.startsWith(`${match[1]}:`)) return json(401, { code: 20003, message: 'Authenticate' });
    if (failures > 0) {
      failures--;
      return json(failStatus, { code: 20500, message: 'An internal server error has occurred' });
    }
    const form = new URLSearchParams(raw);
    rec.record({ accountSid: match[1] ?? '', auth, to: form.get('To') ?? '', from: form.get('From') ?? '', body: form.get('Body') ?? '' });
    json(201, { sid: `SM${String(rec.received.length).padStart(32, '0')}`, status: 'queued' });
  });
  const port = await listen(server);
  return Object.assign(sink, { port, url: `http://127.0.0.1:${port}`, close: () => closeServer(server) });
}

// ---- a dead man's switch (healthchecks.io-like): records pings, can fail ----------------

export interface HeartbeatSink extends Sink<{ method: string; path: string; body: string }> {
  /** answer the next n pings with this status */
  failNext(n: number, status?: number): void;
}

export async function startHeartbeatSink(): Promise<HeartbeatSink> {
  const rec = recorder<{ method: string; path: string; body: string }>();
  let failures = 0;
  let failStatus = 503;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (failures > 0) {
      failures--;
      res.writeHead(failStatus, { 'Content-Type': 'text/plain' }).end('unavailable');
      return;
    }
    rec.record({ method: req.method ?? '', path: req.url ?? '', body });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
  });
  const port = await listen(server);
  return {
    ...rec,
    port,
    url: `http://127.0.0.1:${port}`,
    failNext(n, status = 503) {
      failures = n;
      failStatus = status;
    },
    close: () => closeServer(server),
  };
}

// ---- SMTP --------------------------------------------------------------------------------

export interface Mail {
  from: string;
  to: string[];
  /** the raw message as sent (headers and MIME body) */
  data: string;
  subject: string;
  /** the message's text and HTML parts, transfer encodings undone */
  text: string;
  /** user and password of AUTH PLAIN, if the client authenticated */
  auth: { username: string; password: string } | undefined;
  tls: boolean;
}

export interface SmtpSink extends Sink<Mail> {
  /** the self-signed certificate (PEM) the sink presents for 127.0.0.1; trust it with SSL_CERT_FILE */
  caFile: string;
}

/**
 * An SMTP server on loopback offering STARTTLS (a certificate for 127.0.0.1, made with openssl)
 * and AUTH PLAIN after it, like a real relay: Alertmanager's default require_tls holds.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-smtp-sink-'));
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile,
  ], { stdio: 'ignore' });
  const secureContext = tls.createSecureContext({ key: readFileSync(keyFile), cert: readFileSync(caFile) });
  const rec = recorder<Mail>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    let socket: net.Socket = raw;
    let secure = false;
    let buffer = '';
    let inData = false;
    let awaitingAuth = false;
    let mail: Omit<Mail, 'subject' | 'text' | 'data'> & { data: string } = { from: '', to: [], data: '', auth: undefined, tls: false };
    const reply = (line: string) => socket.write(`${line}\r\n`);
    const auth = (b64: string) => {
      const [, username = '', password = ''] = Buffer.from(b64, 'base64').toString('utf8').split('\u0000');
      mail.auth = { username, password };
      reply('235 2.7.0 Authentication successful');
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          const atStart = buffer.startsWith('.\r\n');
          if (end < 0 && !atStart) return;
          const body = atStart ? '' : buffer.slice(0, end + 2);
          buffer = buffer.slice(atStart ? 3 : end + 5);
          inData = false;
          const data = body.replace(/^\.\./gm, '.');
          rec.record({ ...mail, data, tls: secure, subject: headerOf(data, 'subject'), text: mimeText(data) });
          mail = { from: '', to: [], data: '', auth: mail.auth, tls: secure };
          reply('250 2.0.0 OK: queued');
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline < 0) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        if (awaitingAuth) {
          awaitingAuth = false;
          auth(line.trim());
          continue;
        }
        const [verb = '', ...rest] = line.split(' ');
        const arg = rest.join(' ');
        switch (verb.toUpperCase()) {
          case 'EHLO':
          case 'HELO':
            socket.write(`250-sink greets ${arg}\r\n250-8BITMIME\r\n${secure ? '250-AUTH PLAIN\r\n' : '250-STARTTLS\r\n'}250 SMTPUTF8\r\n`);
            break;
          case 'STARTTLS': {
            reply('220 2.0.0 Ready to start TLS');
            socket.off('data', onData);
            const upgraded = new tls.TLSSocket(socket, { isServer: true, secureContext });
            upgraded.on('error', () => raw.destroy());
            upgraded.on('data', onData);
            socket = upgraded;
            secure = true;
            buffer = '';
            return;
          }
          case 'AUTH': {
            const [mech = '', initial] = arg.split(' ');
            if (!secure) reply('538 5.7.11 Encryption required');
            else if (mech.toUpperCase() !== 'PLAIN') reply('504 5.5.4 Unrecognized authentication type');
            else if (initial) auth(initial);
            else {
              awaitingAuth = true;
              reply('334 ');
            }
            break;
          }
          case 'MAIL':
            mail.from = /<([^>]*)>/.exec(arg)?.[1] ?? arg;
            reply('250 2.1.0 OK');
            break;
          case 'RCPT':
            mail.to.push(/<([^>]*)>/.exec(arg)?.[1] ?? arg);
            reply('250 2.1.5 OK');
            break;
          case 'DATA':
            inData = true;
            reply('354 End data with <CR><LF>.<CR><LF>');
            break;
          case 'RSET':
            mail = { from: '', to: [], data: '', auth: mail.auth, tls: secure };
            reply('250 2.0.0 OK');
            break;
          case 'NOOP':
            reply('250 2.0.0 OK');
            break;
          case 'QUIT':
            reply('221 2.0.0 Bye');
            socket.end();
            return;
          default:
            reply('502 5.5.2 Command not recognized');
        }
      }
    };
    raw.on('data', onData);
    reply('220 127.0.0.1 ESMTP cc-smtp-sink');
  });
  const port = await listen(server);
  return {
    ...rec,
    port,
    url: `smtp://127.0.0.1:${port}`,
    caFile,
    async close() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A header's value, unfolded; RFC 2047 encoded words decoded. */
function headerOf(data: string, name: string): string {
  const head = data.split(/\r\n\r\n/)[0] ?? '';
  const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
  const line = unfolded.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  const value = line?.slice(name.length + 1).trim() ?? '';
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  );
}

/** The text of every part of a MIME message, quoted-printable and base64 undone. */
function mimeText(data: string): string {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(data)?.[1];
  const parts = boundary ? data.split(`--${boundary}`).slice(1, -1) : [data];
  return parts
    .map((part) => {
      const [head = '', ...rest] = part.replace(/^\r\n/, '').split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) return decodeQuotedPrintable(body);
      if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
      return body;
    })
    .join('\n');
}

function decodeQuotedPrintable(text: string): string {
  const bytes = text.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/**
 * Writes a secret to a file of its own (0600) in dir and returns the path. No trailing newline:
 * Alertmanager 0.25 sends smtp_auth_password_file's content as is, newline included.
 */
export function secretFile(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, value, { mode: 0o600 });
  return path;
}
