// Every reference between the documents resolves: each relative link of every markdown file of
// the repository names a file that exists and, with an anchor, a heading (or an <a id>) of that
// file; the paths to documents that code, configuration and scripts name in their comments and
// strings exist; every alert's runbook link lands on a section of docs/runbooks.md. Also: the
// README stays an entry (at most 250 lines), and no document cites a design document the
// repository does not have.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../', import.meta.url));
const SELF = 'checks/links.test.ts';
const REPO_BLOB = 'https://github.com/camerons-connect/connect-observability/blob/main/';

/** GitHub's heading anchor (github-slugger): lower case, punctuation dropped but `-` and `_`, spaces to `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/<[^>]*>/g, '')
    .replace(/!?\[((?:[^[\]]|\[[^\]]*\])*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The text with fenced code blocks blanked (line numbers kept). */
function withoutFences(text: string): string {
  let fence: string | undefined;
  return text
    .split('\n')
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === undefined && marker) {
        fence = marker;
        return '';
      }
      if (fence !== undefined) {
        if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The anchors a markdown text has: its headings' slugs (repeats numbered as GitHub does) and its HTML ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = withoutFences(markdown);
  for (const line of text.split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<[a-z]+\s[^>]*\b(?:id|name)="([^"]+)"/gi)) anchors.add(m[1]!);
  return anchors;
}

export interface Link {
  line: number;
  text: string;
  target: string;
}

/** The links of a markdown text, `[text](target)`, `![alt](target)` and `[ref]: target`, outside code. */
export function linksOf(markdown: string): Link[] {
  // Code spans may run over a line break; blank them keeping the line breaks.
  const text = withoutFences(markdown).replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, (code) => code.replace(/[^\n]/g, ' '));
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  const links: Link[] = [];
  for (const m of text.matchAll(/!?\[((?:[^[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    links.push({ line: lineAt(m.index), text: m[1]!.replace(/\s+/g, ' '), target: m[2]! });
  }
  for (const m of text.matchAll(/^ {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    links.push({ line: lineAt(m.index), text: m[1]!, target: m[2]! });
  }
  return links;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** What is wrong with the relative links of `file` (a path from the root), one message each. */
export function brokenLinks(file: string, markdown: string, read: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const { line, text, target } of linksOf(markdown)) {
    if (isExternal(target)) continue;
    const where = `${file}:${line}: [${text}](${target})`;
    if (target === '') {
      problems.push(`${where}: empty target`);
      continue;
    }
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const path = pathPart === '' ? file : pathPart.startsWith('/') ? posix.normalize(pathPart.slice(1)) : posix.join(posix.dirname(file), pathPart);
    if (path.startsWith('..')) {
      problems.push(`${where}: leaves the repository`);
      continue;
    }
    const content = read(path);
    if (content === undefined) {
      problems.push(`${where}: no such file ${path}`);
      continue;
    }
    if (anchor !== undefined && /\.md$/i.test(path) && !anchorsOf(content).has(anchor)) {
      problems.push(`${where}: ${path} has no heading #${anchor}`);
    }
  }
  return problems;
}

function repoFiles(): string[] {
  try {
    // Tracked and new (not ignored) files, so a document not yet committed is checked too.
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
    return [...new Set(out.split('\0').filter(Boolean))].filter((f) => existsSync(join(root, f)));
  } catch {
    // Not a git checkout: walk the tree.
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(root, dir))) {
        if (['node_modules', '.git', 'dist', 'coverage', 'secrets', 'backups', '.data'].includes(name)) continue;
        const path = dir ? `${dir}/${name}` : name;
        if (statSync(join(root, path)).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk('');
    return files;
  }
}

/** A file's text by its path from the root; a directory reads as '' (it exists); undefined when missing. */
function readRepo(path: string): string | undefined {
  const full = join(root, path);
  if (!existsSync(full)) return undefined;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
}

const files = repoFiles();
const markdownFiles = files.filter((f) => /\.md$/i.test(f));
const codeFiles = files.filter(
  (f) =>
    f !== SELF &&
    !f.startsWith('grafana/dashboards/') &&
    (/\.(ts|tsx|js|mjs|cjs|ya?ml|jsonnet|libsonnet|sh|sql|toml)$/.test(f) || /(^|\/)(Dockerfile|\.env\.example|\.dockerignore)$|^\.ci\//.test(f)),
);

/** Paths to documents named in code: `docs/runbooks.md#watchdog`, `sql/README.md`, a GitHub blob URL of this repository. */
export function documentReferences(source: string): { path: string; anchor: string | undefined }[] {
  const refs: { path: string; anchor: string | undefined }[] = [];
  // A path with a folder, or a document of the root by its upper-case name (README.md); not a
  // temporary file's name (`step-summary.md`) or a template (`runbooks.md#${name}`).
  for (const m of source.matchAll(/(?<![\w./-])((?:[\w-]+\/)+[\w-]+\.md|[A-Z]+\.md)(?:#([\w-]+))?/g)) refs.push({ path: m[1]!, anchor: m[2] });
  const blob = new RegExp(`${REPO_BLOB.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}([\\w./-]+\\.md)(?:#([\\w-]+))?`, 'g');
  for (const m of source.matchAll(blob)) refs.push({ path: m[1]!, anchor: m[2] });
  return refs;
}

describe('documentation links', () => {
  it('finds the markdown files of the repository', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/runbooks.md', 'SECURITY.md', 'edge/README.md', 'web-otel/README.md']));
    expect(markdownFiles.some((f) => f.includes('node_modules/'))).toBe(false);
  });

  it('every relative link of every markdown file names a file that exists, and its anchor a heading there', () => {
    const problems = markdownFiles.flatMap((file) => brokenLinks(file, readFileSync(join(root, file), 'utf8'), readRepo));
    expect(problems).toEqual([]);
  });

  it('the README links every document of docs/', () => {
    const readmeTargets = new Set(linksOf(readFileSync(join(root, 'README.md'), 'utf8')).map((l) => l.target.split('#')[0]));
    const docs = markdownFiles.filter((f) => f.startsWith('docs/'));
    expect(docs.filter((d) => !readmeTargets.has(d))).toEqual([]);
    for (const part of ['web-otel/README.md', 'edge/README.md', 'sql/README.md', 'SECURITY.md', 'BENCHMARKS.md']) {
      expect(readmeTargets.has(part), part).toBe(true);
    }
  });

  it('the README is an entry of at most 250 lines', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(250);
  });

  it('no document cites the design document, which is not in the repository', () => {
    const citing = markdownFiles.filter((f) => /DESIGN\s*§/.test(readFileSync(join(root, f), 'utf8')));
    expect(citing).toEqual([]);
  });

  it('code, configuration and scripts name documents that exist, and headings that exist in them', () => {
    const problems: string[] = [];
    for (const file of codeFiles) {
      const source = readFileSync(join(root, file), 'utf8');
      for (const { path, anchor } of documentReferences(source)) {
        // A path is from the root, or (like `See README.md.`) from the file's own folder.
        const candidates = [path, posix.join(posix.dirname(file), path)];
        const found = candidates.find((p) => readRepo(p) !== undefined);
        if (!found) problems.push(`${file}: ${path}: no such file`);
        else if (anchor !== undefined && !anchorsOf(readRepo(found)!).has(anchor)) problems.push(`${file}: ${path}#${anchor}: no such heading`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('no file names a section of the README that is not there (`README "Configuration"`, `README, "Alerting"`)', () => {
    const readme = anchorsOf(readFileSync(join(root, 'README.md'), 'utf8'));
    const problems: string[] = [];
    for (const file of [...codeFiles, ...markdownFiles]) {
      const text = readFileSync(join(root, file), 'utf8');
      // `README "X"`, `README's "X"`, `README, *X*` (over a comment's line break too), `(README, X)`, `(README, X: …)`.
      const quoted = /(?<![\w/])README(?:\.md)?(?:'s)?,?\s+(?:(?:#|\/\/|--)\s*)?(?:"([^"]+)"|\*([^*]+)\*)/g;
      const bare = /\((?<![\w/])README(?:\.md)?, ([A-Z][\w ]*?)[):]/g;
      for (const m of [...text.matchAll(quoted), ...text.matchAll(bare)]) {
        const section = (m[1] ?? m[2])!.replace(/\s+/g, ' ');
        if (!readme.has(slug(section))) problems.push(`${file}: README "${section}": no such section in README.md`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('runbook links', () => {
  const runbooks = anchorsOf(readFileSync(join(root, 'docs/runbooks.md'), 'utf8'));

  it('every alert of prometheus/rules/connect.yml links a section of docs/runbooks.md', () => {
    type Rules = { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] };
    const rules = parse(readFileSync(join(root, 'prometheus/rules/connect.yml'), 'utf8')) as Rules;
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const { alert, annotations } of alerts) {
      const m = /\/docs\/runbooks\.md#([\w-]+)$/.exec(annotations?.runbook_url ?? '');
      if (!m) problems.push(`${alert}: runbook_url ${annotations?.runbook_url} is not a docs/runbooks.md anchor`);
      else if (!runbooks.has(m[1]!)) problems.push(`${alert}: docs/runbooks.md has no #${m[1]}`);
    }
    expect(problems).toEqual([]);
  });

  it('the anchors the ops CLI adds to RUNBOOKS_URL, and the mixin pattern, are sections of docs/runbooks.md', () => {
    const alertmanagerTs = readFileSync(join(root, 'exporter/src/ops/deploy/alertmanager.ts'), 'utf8');
    expect(alertmanagerTs).toMatch(/RUNBOOKS_URL = '[^']*\/docs\/runbooks\.md'/);
    const uses = files
      .filter((f) => f.startsWith('exporter/src/') && f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/\$\{RUNBOOKS_URL\}#([\w-]+)/g)].map((m) => m[1]!));
    expect(uses.length).toBeGreaterThan(0);
    expect(uses.filter((a) => !runbooks.has(a))).toEqual([]);
    expect(readFileSync(join(root, 'prometheus/config.libsonnet'), 'utf8')).toContain(`runbookURLPattern: '${REPO_BLOB}docs/runbooks.md#%s'`);
  });
});

describe('the link checker itself', () => {
  const docs: Record<string, string> = {
    'README.md': '# Title\n\n## The two `npm` commands\n\n## Backup, restore and maintenance\n\n## Notes\n\n## Notes\n\n<a id="label-floods"></a>text\n',
    'docs/a.md': '# A: the part\n',
  };
  const read = (p: string) => docs[p];

  it('makes GitHub slugs', () => {
    expect(slug('The two `npm` commands')).toBe('the-two-npm-commands');
    expect(slug('Backup, restore and maintenance')).toBe('backup-restore-and-maintenance');
    expect(slug('Backup and restore (`npm run bench:backup`)')).toBe('backup-and-restore-npm-run-benchbackup');
    expect(slug('Edge functions (edge/)')).toBe('edge-functions-edge');
    expect(slug('snake_case and [a link](x.md)')).toBe('snake_case-and-a-link');
  });

  it('accepts what resolves', () => {
    const text = [
      '[a](docs/a.md) [b](docs/a.md#a-the-part) [c](#notes-1) [d](#label-floods) [e](/docs/a.md)',
      '[web](https://example.com/x.md#nope) [mail](mailto:x@example.com)',
      '`[not a link](nowhere.md)` and',
      '```',
      '[not a link either](nowhere.md)',
      '```',
    ].join('\n');
    expect(brokenLinks('README.md', text, read)).toEqual([]);
    expect(brokenLinks('docs/a.md', '[up](../README.md#the-two-npm-commands)', read)).toEqual([]);
  });

  it('reports a missing file, a missing heading, and a link out of the repository', () => {
    expect(brokenLinks('README.md', 'x\n[gone](docs/b.md)', read)).toEqual(['README.md:2: [gone](docs/b.md): no such file docs/b.md']);
    expect(brokenLinks('docs/a.md', '[old](../README.md#alerting)', read)).toEqual([
      'docs/a.md:1: [old](../README.md#alerting): README.md has no heading #alerting',
    ]);
    expect(brokenLinks('README.md', '[self](#notes-2)', read)).toHaveLength(1);
    expect(brokenLinks('docs/a.md', '[out](../../etc/passwd)', read)).toHaveLength(1);
  });

  it('finds document paths in code', () => {
    expect(documentReferences(`// see sql/README.md and ${REPO_BLOB}docs/runbooks.md#watchdog; not https://example.com/runbooks.md#x`)).toEqual([
      { path: 'sql/README.md', anchor: undefined },
      { path: 'docs/runbooks.md', anchor: 'watchdog' },
    ]);
  });
});
