// Reading prom-client registries in tests: a metric's samples as { 'a=x,b=y': value }.
import type { Registry } from 'prom-client';

/** A metric's samples; with `without`, summed over those labels, as PromQL's sum without (…) does. */
export async function samples(registry: Registry, name: string, without: readonly string[] = []): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const value of metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
      if ((value.metricName ?? metric.name) !== name) continue;
      const key = Object.entries(value.labels)
        .filter(([k]) => !without.includes(k))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out[key] = without.length > 0 ? (out[key] ?? 0) + value.value : value.value;
    }
  }
  return out;
}

/** Parse Prometheus text exposition into { 'name{labels}': value } for exact assertions. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

export interface OpenMetricsFamily {
  name: string;
  type: string;
  help: string | undefined;
  /** 'name{labels}' (as parseExposition keys them) -> value */
  samples: Map<string, number>;
}

/** The sample names each OpenMetrics type allows: the family name plus one of these. */
const SAMPLE_SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};

/**
 * OpenMetrics 1.0 text parsed into its metric families, checked as the specification says:
 * it ends with "# EOF" and nothing follows; no blank lines; HELP, TYPE and UNIT only, before the
 * family's samples; a family appears once, its samples together; each sample is named after its
 * family with a suffix its type allows; values are numbers. Throws on the first violation.
 */
export function parseOpenMetrics(text: string): Map<string, OpenMetricsFamily> {
  if (!text.endsWith('\n# EOF\n')) throw new Error('does not end with "# EOF" and a newline');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n').slice(0, -1);
  const families = new Map<string, OpenMetricsFamily>();
  let current: OpenMetricsFamily | undefined;
  const family = (name: string, at: string): OpenMetricsFamily => {
    if (current?.name === name) return current;
    if (families.has(name)) throw new Error(`family ${name} appears twice (at "${at}")`);
    current = { name, type: 'unknown', help: undefined, samples: new Map() };
    families.set(name, current);
    return current;
  };
  for (const line of lines) {
    if (line === '') throw new Error('a blank line');
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
    if (meta) {
      const f = family(meta[2]!, line);
      if (f.samples.size > 0) throw new Error(`metadata after samples of ${f.name}: "${line}"`);
      if (meta[1] === 'TYPE') {
        if (!(meta[3]! in SAMPLE_SUFFIXES)) throw new Error(`unknown type in "${line}"`);
        f.type = meta[3]!;
      } else if (meta[1] === 'HELP') {
        if (/(?<!\\)(?:\\\\)*"/.test(meta[3] ?? '')) throw new Error(`an unescaped quote in "${line}"`);
        f.help = meta[3];
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`not a HELP, TYPE or UNIT line: "${line}"`);
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`no metric name: "${line}"`);
    let end = name.length;
    if (line[end] === '{') {
      let quoted = false;
      for (end++; end < line.length && (quoted || line[end] !== '}'); end++) {
        if (line[end] === '\\') end++;
        else if (line[end] === '"') quoted = !quoted;
      }
      if (line[end] !== '}') throw new Error(`unterminated labels: "${line}"`);
      end++;
    }
    const rest = line.slice(end);
    const value = /^ (\S+)$/.exec(rest)?.[1];
    if (value === undefined || !/^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?inf$|^nan$/i.test(value)) throw new Error(`not one value after the labels (no timestamps, no exemplars): "${line}"`);
    const f = current;
    const suffix = f && name.startsWith(f.name) ? name.slice(f.name.length) : undefined;
    if (!f || suffix === undefined || !SAMPLE_SUFFIXES[f.type]!.includes(suffix)) {
      throw new Error(`sample ${name} is not one of family ${f?.name ?? '(none)'} of type ${f?.type ?? '-'}`);
    }
    f.samples.set(line.slice(0, end), /inf$/i.test(value) ? (value.startsWith('-') ? -Infinity : Infinity) : Number(value));
  }
  return families;
}
