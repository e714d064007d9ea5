import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGIONS, regionIn, regionsOf, type ResultsFile } from '../../bench/doc-tables.js';

// The docs describe behaviour. History lives in git: no commit hashes, dates or
// "the run before" in them, and a figure they quote is one a test checks or one
// written from the latest bench run, so none can go stale.

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const DOCS = [
  'README.md',
  'deploy/README.md',
  'protocol/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The prose of a doc: code blocks, code spans and comments blanked out, lines kept. */
function proseOf(text: string): string {
  return text
    .replace(/^```[^\n]*\n[\s\S]*?^```$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/<!--[\s\S]*?-->/g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

/** A doc without its generated regions, which npm run bench writes from the latest run. */
const withoutGenerated = (text: string) =>
  text.replace(/<!-- begin bench:(\w+)[^\n]*-->[\s\S]*?<!-- end bench:\1 -->/g, (region) => region.replace(/[^\n]/g, ' '));

/** What reads as a lab notebook: a commit, a date, a day, another run. */
const NOTEBOOK: Array<[string, RegExp]> = [
  ['a commit hash', /\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/i],
  ['a date', /\b(19|20)\d\d-[01]\d-[0-3]\d\b/],
  ['a day', /\b(that|this|some|other|one) days?\b|\bbetween days\b|\btoday\b|\btoday's\b|\byesterday\b/i],
  ['another run', /\bthe (full |quick |smoke |last |latest )?run (before|after)\b|\b(a|the) (full|quick|smoke) run of\b/i],
  ['a change told as history', /\bused to\b|\bno longer\b|\bwent from\b/i],
  ['a machine of the day', /\bthis (VM|machine)\b/i],
];

/** Each line of `text` that `pattern` matches, as `path:line: text`. */
function linesMatching(path: string, text: string, original: string, pattern: RegExp): string[] {
  const lines = original.split('\n');
  return text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${path}:${i + 1}: ${lines[i]?.trim()}`] : []));
}

describe('docs: behaviour, not a lab notebook', () => {
  for (const [what, pattern] of NOTEBOOK)
    it(`no doc names ${what} in its prose`, () => {
      const found = DOCS.flatMap((path) => linesMatching(path, proseOf(read(path)), read(path), pattern));
      assert.deepEqual(found, []);
    });

  it('finds what it looks for, in prose only', () => {
    const prose = proseOf(
      'The full run of 16e203f measured 62.4 ms that day.\n```\nd2b4d27 2025-05-01\n```\n`f00dfeed0123` and <!-- 0123abcd -->',
    );
    const hits = NOTEBOOK.filter(([, pattern]) => pattern.test(prose)).map(([what]) => what);
    assert.deepEqual(hits, ['a commit hash', 'a day', 'another run']);
    assert.ok(NOTEBOOK.some(([, p]) => p.test('the run before, on 2024-03-01')));
  });

  it('performance.md quotes figures only in the regions written from the latest run', () => {
    const path = 'docs/performance.md';
    const original = read(path);
    const measurement = /\b\d+(\.\d+)? ?(ms|MB|KiB|kB|GB|Gbit\/s|s|seconds|minutes|%)(?![\w/])/;
    assert.deepEqual(linesMatching(path, proseOf(withoutGenerated(original)), original, measurement), []);
  });

  it("performance.md's figures are those of test/bench/results/latest.json", () => {
    const doc = read('docs/performance.md');
    const expected = regionsOf(JSON.parse(read('test/bench/results/latest.json')) as ResultsFile);
    for (const region of REGIONS)
      assert.equal(
        regionIn(doc, region),
        expected[region],
        `docs/performance.md's ${region} is stale: run node test/dist/bench/write-doc.js`,
      );
  });

  it('architecture.md carries no memory readings, and lists every pinned dependency at its pin', () => {
    const doc = read('docs/architecture.md');
    assert.deepEqual(linesMatching('docs/architecture.md', proseOf(doc), doc, /\b\d+(\.\d+)? ?(MB|MiB|kB)\b/), []);
    const listed = new Map([...doc.matchAll(/^\| `([^`]+)` +\| ([^ |]+) +\|/gm)].map((m) => [m[1] as string, m[2] as string]));
    const pinned = new Map<string, string>();
    for (const pkg of ['.', 'protocol', 'runtime', 'guest-agent', 'host-agent', 'test']) {
      const json = JSON.parse(read(join(pkg, 'package.json')));
      for (const [name, version] of Object.entries<string>({ ...json.dependencies, ...json.devDependencies }))
        if (!name.startsWith('@guestnet/')) pinned.set(name, version);
    }
    assert.deepEqual(Object.fromEntries([...listed].sort()), Object.fromEntries([...pinned].sort()));
  });
});
