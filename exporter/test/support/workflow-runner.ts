// Runs one job of a GitHub Actions workflow the way the runner does, on this machine, so that a
// workflow is tested by running it rather than by reading its YAML:
//
//   - each `run:` step in its effective shell: `bash -e {0}` when no shell is named (no pipefail:
//     `cmd | tee log` hides cmd's failure), `bash --noprofile --norc -eo pipefail {0}` for
//     `shell: bash`, from the step, the job's or the workflow's `defaults.run.shell`;
//   - `${{ }}` expressions substituted in run scripts, env, with and working-directory, and `if:`
//     evaluated (success(), failure(), always(), cancelled(), ==, !=, &&, ||, !, the inputs,
//     secrets, vars, github, env, runner and steps contexts; string comparison ignores case, as GitHub's);
//   - $GITHUB_OUTPUT (name=value and name<<DELIMITER blocks) as steps.<id>.outputs, $GITHUB_ENV
//     for the following steps, $GITHUB_STEP_SUMMARY, $RUNNER_TEMP, $GITHUB_WORKSPACE;
//   - continue-on-error: the step's outcome stays failure, its conclusion is success, the job
//     goes on; a failed step without it fails the job, and later steps run only when their `if:`
//     calls always() or failure().
//
// `uses:` steps are not run: actions/checkout links the directory the caller names for its
// `path`, actions/setup-node does nothing (this machine's Node runs), anything else throws.
// Steps that need the internet can be replaced by name with a script (the test says which).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export interface WorkflowRunOptions {
  /** the workflow file */
  file: string;
  job: string;
  inputs?: Record<string, string>;
  secrets?: Record<string, string>;
  /** configuration variables (the vars context) */
  vars?: Record<string, string>;
  /** the github context (sha, repository, actor, …); workspace is set by the runner */
  github?: Record<string, string>;
  /** actions/checkout's `path` → the directory that stands for that checkout */
  checkouts?: Record<string, string>;
  /** steps by name run as this script instead (null: skipped as if it succeeded) */
  replace?: Record<string, string | null>;
  /** the runner's environment: PATH and whatever the fakes need */
  env?: Record<string, string>;
  /** each step's time limit (ms) */
  stepTimeoutMs?: number;
}

export type Outcome = 'success' | 'failure' | 'skipped';

export interface StepRun {
  name: string;
  id: string | undefined;
  outcome: Outcome;
  conclusion: Outcome;
  /** the shell command line it ran under, e.g. "bash -e {0}" */
  shell: string | undefined;
  exitCode: number | null;
  output: string;
  outputs: Record<string, string>;
}

export interface JobRun {
  result: 'success' | 'failure';
  steps: StepRun[];
  summary: string;
  step(name: string): StepRun;
  /** every step's output, for messages */
  log(): string;
}

interface StepDef {
  name?: string;
  id?: string;
  if?: string | boolean;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
  shell?: string;
  env?: Record<string, unknown>;
  'working-directory'?: string;
  'continue-on-error'?: boolean | string;
}

const SHELLS: Record<string, string[]> = {
  '': ['bash', '-e'],
  bash: ['bash', '--noprofile', '--norc', '-eo', 'pipefail'],
  sh: ['sh', '-e'],
};

export async function runWorkflowJob(options: WorkflowRunOptions): Promise<JobRun> {
  const workflow = parse(readFileSync(options.file, 'utf8')) as {
    defaults?: { run?: { shell?: string } };
    jobs: Record<string, { env?: Record<string, unknown>; defaults?: { run?: { shell?: string } }; steps: StepDef[] }>;
  };
  const job = workflow.jobs[options.job];
  if (!job) throw new Error(`no job ${options.job} in ${options.file}`);
  const root = mkdtempSync(join(tmpdir(), 'cc-workflow-'));
  const workspace = join(root, 'workspace');
  const temp = join(root, 'runner-temp');
  mkdirSync(workspace);
  mkdirSync(temp);
  const summaryFile = join(temp, 'step-summary.md');
  writeFileSync(summaryFile, '');

  const github = { workspace, sha: '0'.repeat(40), repository: 'owner/app', ...options.github };
  const inputs = options.inputs ?? {};
  const secrets = options.secrets ?? {};
  const steps: StepRun[] = [];
  const stepsContext: Record<string, { outcome: Outcome; conclusion: Outcome; outputs: Record<string, string> }> = {};
  let jobFailed = false;
  /** $GITHUB_ENV of earlier steps */
  const addedEnv: Record<string, string> = {};

  const vars = options.vars ?? {};
  const contexts = (env: Record<string, string>): Context => ({ inputs, secrets, vars, github, env, runner: { temp, os: 'Linux' }, steps: stepsContext });
  const jobEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.env ?? {})) jobEnv[k] = substitute(String(v), contexts({}), jobFailed);
  const defaultShell = job.defaults?.run?.shell ?? workflow.defaults?.run?.shell ?? '';

  try {
    for (const def of job.steps) {
      const name = def.name ?? def.uses ?? def.run?.split('\n')[0] ?? 'step';
      const env = { ...jobEnv, ...addedEnv };
      const ctx = contexts(env);
      const condition = def.if === undefined ? 'success()' : String(def.if).replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
      const hasStatusCheck = /\b(always|failure|cancelled|success)\(\)/.test(condition);
      const run = hasStatusCheck || !jobFailed ? truthy(evaluate(hasStatusCheck ? condition : `success() && (${condition})`, ctx, jobFailed)) : false;
      const record = (r: Omit<StepRun, 'name' | 'id'>) => {
        const step: StepRun = { name, id: def.id, ...r };
        steps.push(step);
        if (def.id) stepsContext[def.id] = { outcome: step.outcome, conclusion: step.conclusion, outputs: step.outputs };
        if (step.conclusion === 'failure') jobFailed = true;
      };
      if (!run) {
        record({ outcome: 'skipped', conclusion: 'skipped', shell: undefined, exitCode: null, output: '', outputs: {} });
        continue;
      }
      const stepEnv: Record<string, string> = { ...env };
      for (const [k, v] of Object.entries(def.env ?? {})) stepEnv[k] = substitute(String(v), ctx, jobFailed);
      const continueOnError = def['continue-on-error'] === true || def['continue-on-error'] === 'true';

      let script: string | undefined = def.run === undefined ? undefined : substitute(def.run, contexts(stepEnv), jobFailed);
      if (options.replace && name in options.replace) {
        const replacement = options.replace[name];
        if (replacement === null) {
          record({ outcome: 'success', conclusion: 'success', shell: undefined, exitCode: 0, output: '(replaced: skipped by the test)', outputs: {} });
          continue;
        }
        script = replacement;
      } else if (def.uses !== undefined) {
        record(useAction(def, workspace, options.checkouts ?? {}, ctx, jobFailed));
        continue;
      }
      if (script === undefined) throw new Error(`step ${name} has neither run nor uses`);

      const shellName = def.shell ?? defaultShell;
      const shell = SHELLS[shellName];
      if (!shell) throw new Error(`step ${name}: shell ${shellName} is not supported here`);
      const outputFile = join(temp, `output-${steps.length}`);
      const envFile = join(temp, `env-${steps.length}`);
      const scriptFile = join(temp, `step-${steps.length}.sh`);
      writeFileSync(outputFile, '');
      writeFileSync(envFile, '');
      writeFileSync(scriptFile, script);
      const cwd = def['working-directory'] ? resolve(workspace, substitute(def['working-directory'], ctx, jobFailed)) : workspace;
      const { code, output } = await exec(shell[0]!, [...shell.slice(1), scriptFile], cwd, {
        ...options.env,
        ...stepEnv,
        GITHUB_OUTPUT: outputFile,
        GITHUB_ENV: envFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_WORKSPACE: workspace,
        GITHUB_SHA: github.sha,
        GITHUB_REPOSITORY: github.repository,
        RUNNER_TEMP: temp,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
      }, options.stepTimeoutMs ?? 300_000);
      Object.assign(addedEnv, parseKeyValues(readFileSync(envFile, 'utf8')));
      const outcome: Outcome = code === 0 ? 'success' : 'failure';
      record({
        outcome,
        conclusion: outcome === 'failure' && continueOnError ? 'success' : outcome,
        shell: `${shell.join(' ')} {0}`,
        exitCode: code,
        output,
        outputs: parseKeyValues(readFileSync(outputFile, 'utf8')),
      });
    }
    const summary = readFileSync(summaryFile, 'utf8');
    return {
      result: jobFailed ? 'failure' : 'success',
      steps,
      summary,
      step(name) {
        const found = steps.find((s) => s.name === name);
        if (!found) throw new Error(`no step named ${name}; steps: ${steps.map((s) => s.name).join(', ')}`);
        return found;
      },
      log: () => steps.map((s) => `--- ${s.name} [${s.outcome}${s.conclusion !== s.outcome ? ` → ${s.conclusion}` : ''}]\n${s.output}`).join('\n'),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function useAction(def: StepDef, workspace: string, checkouts: Record<string, string>, ctx: Context, jobFailed: boolean): Omit<StepRun, 'name' | 'id'> {
  const action = def.uses!.split('@')[0];
  const done = (output: string) => ({ outcome: 'success' as const, conclusion: 'success' as const, shell: undefined, exitCode: 0, output, outputs: {} });
  if (action === 'actions/checkout') {
    const path = substitute(String(def.with?.path ?? '.'), ctx, jobFailed);
    const ref = def.with?.ref === undefined ? '' : substitute(String(def.with.ref), ctx, jobFailed);
    const source = checkouts[path];
    if (!source) throw new Error(`actions/checkout of path ${path}: the test names no directory for it`);
    symlinkSync(source, join(workspace, path));
    return done(`checked out ${String(def.with?.repository ?? 'the caller')}${ref ? ` at ${ref}` : ''} into ${path} (linked to ${source})`);
  }
  if (action === 'actions/setup-node') return done('this machine\'s Node.js');
  throw new Error(`action ${action} is not supported by this runner`);
}

function exec(command: string, args: string[], cwd: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`a step did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

/** name=value lines and name<<DELIMITER … DELIMITER blocks, as $GITHUB_OUTPUT and $GITHUB_ENV take them. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

// ---- Expressions ----------------------------------------------------------------------------

interface Context {
  inputs: Record<string, string>;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  github: Record<string, string>;
  env: Record<string, string>;
  runner: Record<string, string>;
  steps: Record<string, { outcome: Outcome; conclusion: Outcome; outputs: Record<string, string> }>;
}

type Value = string | number | boolean | null | Record<string, unknown>;

/** `${{ expr }}` in text replaced by the expression's value as a string. */
export function substitute(text: string, ctx: Context, jobFailed: boolean): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr: string) => toText(evaluate(expr, ctx, jobFailed)));
}

function toText(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function truthy(v: Value): boolean {
  return !(v === false || v === null || v === undefined || v === 0 || v === '' || (typeof v === 'number' && Number.isNaN(v)));
}

function equal(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  return a === b;
}

/** A small evaluator of GitHub's expression language (what workflows here use). */
export function evaluate(source: string, ctx: Context, jobFailed: boolean): Value {
  const tokens = [...source.matchAll(/\s*(?:('(?:[^']|'')*')|(==|!=|&&|\|\||[!()])|(\d+(?:\.\d+)?)|([A-Za-z_][\w.-]*(?:\(\))?))/gy)];
  let pos = 0;
  const consumed = tokens.reduce((n, t) => n + t[0].length, 0);
  if (source.slice(consumed).trim() !== '') throw new Error(`cannot parse expression: ${source}`);
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const is = (op: string) => peek()?.[2] === op;

  function primary(): Value {
    const t = next();
    if (!t) throw new Error(`unexpected end of expression: ${source}`);
    if (t[1] !== undefined) return t[1].slice(1, -1).replace(/''/g, "'");
    if (t[3] !== undefined) return Number(t[3]);
    if (t[2] === '(') {
      const v = or();
      if (next()?.[2] !== ')') throw new Error(`missing ) in ${source}`);
      return v;
    }
    if (t[2] === '!') return !truthy(primary());
    const word = t[4]!;
    switch (word) {
      case 'true': return true;
      case 'false': return false;
      case 'null': return null;
      case 'always()': return true;
      case 'cancelled()': return false;
      case 'success()': return !jobFailed;
      case 'failure()': return jobFailed;
    }
    return lookup(word, ctx);
  }
  function comparison(): Value {
    let left = primary();
    while (is('==') || is('!=')) {
      const op = next()![2];
      const right = primary();
      left = op === '==' ? equal(left, right) : !equal(left, right);
    }
    return left;
  }
  function and(): Value {
    let left = comparison();
    while (is('&&')) {
      next();
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  }
  function or(): Value {
    let left = and();
    while (is('||')) {
      next();
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  }
  const value = or();
  if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]![0]} in ${source}`);
  return value;
}

function lookup(path: string, ctx: Context): Value {
  const [head, ...rest] = path.split('.');
  let value: unknown = (ctx as unknown as Record<string, unknown>)[head!];
  if (value === undefined) throw new Error(`unknown context ${head} in ${path}`);
  for (const key of rest) {
    if (value === null || typeof value !== 'object') return null;
    value = (value as Record<string, unknown>)[key];
  }
  return value === undefined ? null : (value as Value);
}
