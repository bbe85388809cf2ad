// Reading settings from the environment, shared by the exporter's config (config.ts) and the
// ops CLI's settings (ops/settings.ts, ops/deploy/settings.ts): a value is trimmed and an empty
// one is unset, and a secret comes from NAME or from the file NAME_FILE names (so it stays out of
// the environment listing), never both. Problems are collected, not thrown, so that every one is
// reported at once.
import { readFileSync } from 'node:fs';

export type Env = Record<string, string | undefined>;

/** The value trimmed; undefined when unset or blank. */
export function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** The secret `name` from NAME or from the file NAME_FILE (trimmed); a problem if both are set or the file is unreadable or empty. */
export function readSecret(env: Env, name: string, problems: string[]): string | undefined {
  const direct = nonEmpty(env[name]);
  const file = nonEmpty(env[`${name}_FILE`]);
  if (direct !== undefined && file !== undefined) {
    problems.push(`${name} and ${name}_FILE are both set; set one`);
    return undefined;
  }
  if (file === undefined) return direct;
  try {
    const content = readFileSync(file, 'utf8').trim();
    if (content === '') problems.push(`${name}_FILE: ${file} is empty`);
    return content || undefined;
  } catch (err) {
    problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
}
