import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The shape the code must keep: no import cycles between source files (type-only
// imports count: a cycle of types is still a layering knot), a model layer that
// imports nothing that does work, and files short enough to read in one go.

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const PACKAGES = ['protocol', 'runtime', 'guest-agent', 'host-agent'];
const MAX_LINES = 300;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const files = PACKAGES.flatMap((pkg) => sources(join(root, pkg, 'src')));
const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module a file imports: relative ones as paths, packages by name. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const local: string[] = [];
  const packages: string[] = [];
  for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const target = (match[1] ?? match[2]) as string;
    if (!target.startsWith('.')) {
      packages.push(target);
      continue;
    }
    const path = resolve(dirname(file), target).replace(/\.js$/, '.ts');
    if (existsSync(path)) local.push(path);
  }
  return { local, packages };
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

/** Strongly connected components with more than one member (Tarjan). */
function cycles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture', () => {
  it('reads every package', () => {
    assert.ok(files.length > 50, `only ${files.length} source files found under ${root}`);
  });

  it('has no import cycle between source files, type-only imports included', () => {
    const found = cycles(new Map([...graph].map(([file, imports]) => [file, imports.local])));
    assert.deepEqual(
      found.map((c) => c.map((f) => relative(root, f)).sort()),
      [],
    );
  });

  it('has no import cycle between packages', () => {
    const edges = new Map(PACKAGES.map((pkg) => [pkg, [] as string[]]));
    for (const [file, { packages }] of graph) {
      const from = relative(root, file).split('/')[0] as string;
      for (const name of packages) {
        const to = /^@guestnet\/([^/]+)/.exec(name)?.[1];
        if (to && to !== from) edges.get(from)?.push(to);
      }
    }
    assert.deepEqual(cycles(edges), []);
  });

  it("keeps host-agent's model a leaf: it imports only itself, the protocol and node:path", () => {
    const model = join(root, 'host-agent/src/model');
    for (const [file, { local, packages }] of graph) {
      if (!file.startsWith(model)) continue;
      for (const target of local) assert.ok(target.startsWith(model), `${relative(root, file)} imports ${relative(root, target)}`);
      for (const name of packages) assert.ok(['@guestnet/protocol', 'node:path'].includes(name), `${relative(root, file)} imports ${name}`);
    }
  });

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const long = files.filter((file) => readFileSync(file, 'utf8').split('\n').length > MAX_LINES).map((f) => relative(root, f));
    assert.deepEqual(long, []);
  });
});
