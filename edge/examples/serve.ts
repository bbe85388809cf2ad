// Serves the `handler` export of a function module on 127.0.0.1, for tests and local runs:
//   deno run --allow-net --allow-env edge/examples/serve.ts edge/examples/stripe-webhook/index.ts
// PORT (default 0: any free port). Prints one JSON line on stdout when listening: {"listening":<port>}.
// The examples below load without --allow-read; any other module needs it (Deno asks read access
// for an import whose path is only known at run time), e.g. --allow-read=supabase/functions.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const EXAMPLES: Record<string, () => Promise<{ handler?: unknown }>> = {
  [new URL('./stripe-webhook/index.ts', import.meta.url).href]: () => import('./stripe-webhook/index.ts'),
};

const path = Deno.args[0];
if (path === undefined) {
  console.error('usage: serve.ts <module path>');
  Deno.exit(2);
}
const url = pathToFileURL(resolve(path)).href;
const mod: { handler?: unknown } = await (EXAMPLES[url] ?? (() => import(url)))();
if (typeof mod.handler !== 'function') {
  console.error(`${path} exports no handler function`);
  Deno.exit(2);
}
Deno.serve(
  {
    port: Number(Deno.env.get('PORT') ?? 0),
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(JSON.stringify({ listening: port })),
  },
  mod.handler as Handler,
);
