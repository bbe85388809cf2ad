// `cc-ops annotate`: a Grafana annotation by hand, for what the deploy commands do not record
// (a rollback in Vercel's dashboard, a maintenance window). Org-wide, found by its tags.
import { createGrafanaClient } from './deploy/grafana.js';
import { errorMessage, parseCommand, parseDurationMs, settingsOrExit, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';

const USAGE = `usage: cc-ops annotate --text TEXT [--tags deploy,rollback] [--time WHEN] [--duration DUR]

Adds an organization-wide Grafana annotation (POST /api/annotations); dashboards show the ones
whose tags they query (the deploy tag for deployments). Prints the annotation's id.

  --text TEXT       what happened
  --tags LIST       comma-separated tags (default: manual)
  --time WHEN       when it started: an ISO 8601 time (default: now)
  --duration DUR    make it a region this long (30s, 15m)
  --help            this text

Environment: GRAFANA_URL and GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE), a service-account token.

exit: 0 annotated, 1 Grafana refused or unreachable, 2 bad usage or configuration
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseCommand('annotate', USAGE, argv, {
    text: { type: 'string' },
    tags: { type: 'string' },
    time: { type: 'string' },
    duration: { type: 'string' },
  });
  if (typeof args === 'number') return args;
  const text = args.string('text');
  if (!text) return usageError('annotate', '--text is required', USAGE);
  const tags = (args.string('tags') ?? 'manual').split(',').map((t) => t.trim()).filter(Boolean);
  const rawTime = args.string('time');
  const time = rawTime === undefined ? Date.now() : Date.parse(rawTime);
  if (Number.isNaN(time)) return usageError('annotate', `--time must be an ISO 8601 time, got "${rawTime}"`, USAGE);
  const rawDuration = args.string('duration');
  const duration = rawDuration === undefined ? undefined : parseDurationMs(rawDuration);
  if (rawDuration !== undefined && duration === undefined) return usageError('annotate', `--duration must be a duration (30s, 15m), got "${rawDuration}"`, USAGE);

  const settings = settingsOrExit('annotate', {});
  if (typeof settings === 'number') return settings;
  if (!settings.grafana) {
    console.error('annotate: GRAFANA_URL is not set');
    return 2;
  }
  try {
    const id = await createGrafanaClient(settings.grafana, settings.httpTimeoutMs).createAnnotation({
      time, ...(duration !== undefined ? { timeEnd: time + duration } : {}), tags, text,
    });
    console.log(`annotate: Grafana annotation ${id} added (tags ${tags.join(', ')})`);
    return 0;
  } catch (err) {
    console.error(`annotate: ${errorMessage(err)}`);
    return 1;
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();
