// The split of a program that a daemon may serve into files that each hold
// what one kind of process runs (see splitProgram), for scripts/bundle.mjs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const hashed = (prefix, contents) => `${prefix}-${createHash('sha256').update(contents).digest('hex').slice(0, 16)}.cjs`;
const toRoot = (input) => join(root, input);

/**
 * Resolves each import of a module in `modules` to a require of the file
 * beside the bundle that holds it: absolute path to [file, the expression
 * that picks the module out of that file's exports].
 */
const fromFiles = (modules) => ({
  name: 'from-files',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'from-files' || args.namespace !== 'file' || /^node:|^winston$/.test(args.path)) return undefined;
      const { kind, importer, resolveDir } = args;
      const found = await b.resolve(args.path, { kind, importer, resolveDir, pluginData: 'from-files' });
      // No side effect of its own: where none of its exports is used (a package's index names it), the file is not required.
      return found.errors.length === 0 && modules.has(found.path)
        ? { path: found.path, namespace: 'from-files', sideEffects: false }
        : undefined;
    });
    b.onResolve({ filter: /^\.\/.*\.cjs$/, namespace: 'from-files' }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'from-files' }, async (args) => {
      const [file, pick] = modules.get(args.path);
      if (pick !== '') {
        // Named exports, so that a package's index (`export * from`) that forwards
        // them stays static: from a CommonJS module esbuild would hold the whole
        // index, each module it names, and the files those are in.
        const names = await exportsNamed(args.path);
        const from = `require('./${file}')${pick}`;
        return { loader: 'js', contents: names ? `export const { ${names.join(', ')} } = ${from};` : `module.exports = ${from};` };
      }
      // A whole file required late (the engine): an install that left it out says so in one line.
      const missing = `'${file} is missing from ' + __dirname + ': install every file of deploy/dist together'`;
      return {
        loader: 'js',
        contents: [
          `try { module.exports = require('./${file}'); } catch (error) {`,
          `  throw error?.code === 'MODULE_NOT_FOUND' && error.message.includes('./${file}') ? new Error(${missing}) : error;`,
          '}',
        ].join('\n'),
      };
    });
  },
});

/** The names a module exports, or undefined where esbuild cannot list them all (a default, or `export *`). */
async function exportsNamed(path) {
  const built = await build({ entryPoints: [path], bundle: false, format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  const names = Object.values(built.metafile.outputs)[0].exports;
  return /\bexport\s*\*/.test(readFileSync(path, 'utf8')) || names.includes('default') ? undefined : names;
}

const inputsOf = (built) =>
  Object.keys(built.metafile.inputs)
    .filter((input) => !input.includes(':'))
    .map(toRoot);

/**
 * A module that only re-exports others (a package's index): each file may
 * forward through a copy of its own, which holds nothing that could be two.
 */
const onlyReExports = (path) =>
  /\.js$/.test(path) &&
  readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    .split(';')
    .map((statement) => statement.trim())
    .every((statement) => statement === '' || /^export\s+(\*|\*\s+as\s+\w+|\{[^}]*\})\s+from\s+'[^']+'$/.test(statement));

/** The modules of ours and of node_modules whose code a build holds (a module that only re-exports has none). */
const codeOf = (built) =>
  new Set(
    Object.entries(Object.values(built.metafile.outputs)[0].inputs)
      .filter(([input, { bytesInOutput }]) => bytesInOutput > 0 && !input.includes(':') && input !== '<stdin>')
      .map(([input]) => toRoot(input)),
  );

// A program that a daemon may serve is split by what a process runs, so that
// a client the daemon serves, and --help, read only the code they run: V8
// reads every function of a file it loads, used or not. Three parts of the
// program need code: the entry's own top level (the CLI or the plugin's
// request handling), the modules the entry imports on first use (the
// commands, their output and the daemon's client), and the engine (the module
// `engine` names, which does the work in this process when no daemon serves).
// Each module is in the file of the parts that need it:
// - the entry alone: the entry (`host-agent.cjs`, `guestnet`);
// - the entry and another: `<name>-shared-<hash>.cjs`, which the entry
//   requires at once; its modules run as it loads;
// - the commands alone: `<name>-commands-<hash>.cjs`, required on a
//   command's first use;
// - the commands and the engine: `<name>-common-<hash>.cjs`, required by
//   either on first use;
// - the engine alone: `<name>-engine-<hash>.cjs`, required only when the
//   work is done here.
// A module is once in the process, so that a class (an error checked with
// instanceof) or a module's state is one, whichever file uses it. A file with
// no module is not written. Each lazily required file is named by a hash of
// its content, like winston's; each file requires only files built before it.
const FILE_PARTS = {
  entry: ['entry'],
  shared: ['entry', 'commands', 'engine'],
  common: ['commands', 'engine'],
  commands: ['commands'],
  engine: ['engine'],
};
/** The file that holds a module the given parts need: 'inline' for none, which each file that reaches it would hold. */
const fileOf = (parts) => {
  if (parts.size === 0) return 'inline';
  if (parts.has('entry')) return parts.size > 1 ? 'shared' : 'entry';
  if (parts.has('commands')) return parts.has('engine') ? 'common' : 'commands';
  return 'engine';
};
const exportsOf = (modules) => modules.map((input, i) => `export * as m${i} from ${JSON.stringify(input)};`).join('\n');

export async function splitProgram(common, { entry, name, banner, engine, plugins }) {
  const prefix = name.replace(/\.cjs$/, '');
  const options = { ...common, write: false, metafile: true, supported: { 'dynamic-import': false }, absWorkingDir: root };
  const engineAt = toRoot(engine);
  const entryAt = toRoot(entry);
  const buildSplit = async (needs) => {
    const modulesOf = (kind) =>
      [...needs]
        .filter(([, parts]) => fileOf(parts) === kind)
        .map(([input]) => input)
        .sort();
    const files = [];
    const from = new Map();
    const library = async (kind) => {
      const modules = modulesOf(kind);
      if (modules.length === 0) return;
      const built = await build({
        ...options,
        stdin: { contents: exportsOf(modules), resolveDir: root },
        legalComments: 'eof',
        plugins: [fromFiles(new Map(from)), ...plugins],
      });
      const file = hashed(`${prefix}-${kind}`, built.outputFiles[0].contents);
      for (const [i, input] of modules.entries()) from.set(input, [file, `.m${i}`]);
      files.push([kind, file, built, 0o644]);
    };
    await library('shared');
    await library('common');
    const engineBuilt = await build({
      ...options,
      entryPoints: [engineAt],
      legalComments: 'eof',
      plugins: [fromFiles(new Map(from)), ...plugins],
    });
    const engineFile = hashed(`${prefix}-engine`, engineBuilt.outputFiles[0].contents);
    files.push(['engine', engineFile, engineBuilt, 0o644]);
    from.set(engineAt, [engineFile, '']);
    await library('commands');
    const entryBuilt = await build({
      ...options,
      entryPoints: [entryAt],
      legalComments: 'eof',
      banner: { js: banner },
      plugins: [fromFiles(from), ...plugins],
    });
    files.push(['entry', name, entryBuilt, 0o755]);
    return files.map(([kind, file, built, mode]) => ({ kind, file, contents: built.outputFiles[0].contents, mode, code: codeOf(built) }));
  };
  const alone = (point, modules) => build({ ...options, ...point, plugins: [fromFiles(modules), ...plugins] });
  const elsewhere = (inputs) => new Map(inputs.map((input) => [input, ['elsewhere.cjs', '']]));
  // The commands are the modules that the entry itself imports on first use, but the engine.
  const probe = await alone({ entryPoints: [entryAt] }, elsewhere([engineAt]));
  const commandRoots = probe.metafile.inputs[entry].imports
    .filter(({ kind, path }) => kind === 'dynamic-import' && !path.includes(':'))
    .map(({ path }) => toRoot(path));
  // Which parts need each module's code, each part built alone (tree-shaken: a
  // package's index that only re-exports is in none).
  const entryAlone = await alone({ entryPoints: [entryAt] }, elsewhere([engineAt, ...commandRoots]));
  const commandsAlone =
    commandRoots.length > 0
      ? await alone({ stdin: { contents: exportsOf(commandRoots), resolveDir: root } }, elsewhere([engineAt]))
      : undefined;
  const engineAlone = await alone({ entryPoints: [engineAt] }, new Map());
  const needs = new Map();
  for (const [part, built] of [
    ['entry', entryAlone],
    ['commands', commandsAlone],
    ['engine', engineAlone],
  ])
    if (built) for (const input of codeOf(built)) needs.set(input, (needs.get(input) ?? new Set()).add(part));
  const forwardsOnly = new Set([probe, entryAlone, commandsAlone, engineAlone].filter(Boolean).flatMap(inputsOf).filter(onlyReExports));
  // A module held by a file holds all its code, which may need a module that
  // only another part needed: that one moves to the file of all the parts
  // that hold it, until no module's code is in two files.
  for (;;) {
    const files = await buildSplit(needs);
    const twice = new Set(
      files.flatMap(({ code }, i) => [...code].filter((input) => files.slice(i + 1).some((other) => other.code.has(input)))),
    );
    const more = [...twice].filter((input) => !forwardsOnly.has(input));
    if (more.length === 0) return files.map(({ file, contents, mode }) => [file, contents, mode]);
    for (const input of more) {
      const before = needs.get(input) ?? new Set();
      const after = new Set([...before, ...files.filter(({ code }) => code.has(input)).flatMap(({ kind }) => FILE_PARTS[kind])]);
      // A module already in the file of every part that holds it was not resolved to it: fail, never ship it twice.
      if (fileOf(after) === fileOf(before)) throw new Error(`bundle: ${input} would be in two files of ${name}`);
      needs.set(input, after);
    }
  }
}
