// Local recording stand-ins for what the deploy commands talk to: Grafana's annotations API,
// Vercel's Instant Rollback endpoint, and the app under smoke test. Each keeps every request it
// got (method, path, query, authorization, body) and can be told to fail, for tests to assert on.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface FakeServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Handler = (req: RecordedRequest, res: ServerResponse) => void;

async function startFake(handler: Handler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // kept as text
      }
      const url = new URL(req.url ?? '/', 'http://fake');
      const recorded: RecordedRequest = {
        method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams),
        authorization: req.headers.authorization, headers: req.headers, body,
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

// ---- Grafana --------------------------------------------------------------------------------

export interface StoredAnnotation {
  id: number;
  time: number;
  timeEnd: number | undefined;
  tags: string[];
  text: string;
}

export interface GrafanaFake extends FakeServer {
  token: string;
  /** the annotations as Grafana would now hold them, by id */
  annotations: Map<number, StoredAnnotation>;
  /** answer every request with this status (e.g. 500) instead; undefined: behave */
  failWith: number | undefined;
}

/** POST /api/annotations and PATCH /api/annotations/:id, as Grafana answers them; 401 without the token. */
export async function startGrafanaFake(token = 'glsa_fake_service_account_token'): Promise<GrafanaFake> {
  const annotations = new Map<number, StoredAnnotation>();
  let nextId = 1;
  const state: { fake?: GrafanaFake } = {};
  const fake = await startFake((req, res) => {
    const failWith = state.fake?.failWith;
    if (failWith !== undefined) return json(res, failWith, { message: 'Internal Server Error' });
    if (req.authorization !== `Bearer ${token}`) return json(res, 401, { message: 'Unauthorized' });
    const body = (req.body ?? {}) as Partial<StoredAnnotation>;
    if (req.method === 'POST' && req.path === '/api/annotations') {
      if (typeof body.time !== 'number' || typeof body.text !== 'string') return json(res, 400, { message: 'bad annotation' });
      const id = nextId++;
      annotations.set(id, { id, time: body.time, timeEnd: body.timeEnd, tags: body.tags ?? [], text: body.text });
      return json(res, 200, { message: 'Annotation added', id });
    }
    const match = /^\/api\/annotations\/(\d+)$/.exec(req.path);
    if (req.method === 'PATCH' && match) {
      const existing = annotations.get(Number(match[1]));
      if (!existing) return json(res, 404, { message: 'Annotation not found' });
      if (body.timeEnd !== undefined) existing.timeEnd = body.timeEnd;
      if (body.tags !== undefined) existing.tags = body.tags;
      if (body.text !== undefined) existing.text = body.text;
      return json(res, 200, { message: 'Annotation patched' });
    }
    return json(res, 404, { message: 'Not found' });
  });
  state.fake = Object.assign(fake, { token, annotations, failWith: undefined as number | undefined });
  return state.fake;
}

// ---- Vercel ---------------------------------------------------------------------------------

export interface VercelFake extends FakeServer {
  token: string;
  projectId: string;
  /** the deployments rolled back to, in order */
  rollbacks: { deploymentId: string; description: string | undefined; teamId: string | undefined }[];
  /** answer rollbacks with this status and error instead; undefined: accept (201) */
  failWith: { status: number; code: string; message: string } | undefined;
}

/** POST /v1/projects/:project/rollback/:deployment as Vercel answers it; 403 without the token. */
export async function startVercelFake(projectId = 'prj_fake0000000000000000000000', token = 'vercel_fake_token'): Promise<VercelFake> {
  const rollbacks: VercelFake['rollbacks'] = [];
  const state: { fake?: VercelFake } = {};
  const fake = await startFake((req, res) => {
    const failWith = state.fake?.failWith;
    if (req.authorization !== `Bearer ${token}`) return json(res, 403, { error: { code: 'forbidden', message: 'Not authorized' } });
    const match = /^\/v1\/projects\/([^/]+)\/rollback\/([^/]+)$/.exec(req.path);
    if (req.method === 'POST' && match) {
      if (decodeURIComponent(match[1]!) !== projectId) return json(res, 404, { error: { code: 'not_found', message: 'Project not found' } });
      if (failWith) return json(res, failWith.status, { error: { code: failWith.code, message: failWith.message } });
      rollbacks.push({ deploymentId: decodeURIComponent(match[2]!), description: req.query.description, teamId: req.query.teamId });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    return json(res, 404, { error: { code: 'not_found', message: 'Not found' } });
  });
  state.fake = Object.assign(fake, { token, projectId, rollbacks, failWith: undefined as VercelFake['failWith'] });
  return state.fake;
}

// ---- The app under smoke test ---------------------------------------------------------------

export interface AppRoute {
  status: number;
  contentType: string;
  body: string;
  /** answer 503 to this many requests first (a deployment still warming up) */
  failFirst?: number;
  /** wait this long before answering */
  delayMs?: number;
}

export interface AppFake extends FakeServer {
  routes: Map<string, AppRoute>;
  /** requests per path */
  hits(path: string): number;
}

export const HEALTHY_APP: Record<string, AppRoute> = {
  '/': { status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Connect</title><div id="root"></div>' },
  '/menu': { status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Menu</title><div id="root"></div>' },
  '/api/health': { status: 200, contentType: 'application/json', body: '{"status":"ok"}' },
};

/** The app: a page or JSON per path, each changeable by the test. */
export async function startAppFake(routes: Record<string, AppRoute> = HEALTHY_APP): Promise<AppFake> {
  const table = new Map(Object.entries(routes).map(([k, v]) => [k, { ...v }]));
  const counts = new Map<string, number>();
  const fake = await startFake((req, res) => {
    const n = (counts.get(req.path) ?? 0) + 1;
    counts.set(req.path, n);
    const route = table.get(req.path);
    const answer = () => {
      if (!route) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      if (route.failFirst !== undefined && n <= route.failFirst) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('warming up');
      res.writeHead(route.status, { 'content-type': route.contentType }).end(route.body);
    };
    if (route?.delayMs) setTimeout(answer, route.delayMs);
    else answer();
  });
  return Object.assign(fake, { routes: table, hits: (path: string) => counts.get(path) ?? 0 });
}

/** A URL where nothing listens (a port just freed). */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
