#!/usr/bin/env node
// `npm run bundle`: one self-contained CommonJS file per agent in deploy/dist,
// runnable as `node FILE` with no node_modules beside it (a device, a guest
// image, an initramfs). Built from the compiled dist/ so it runs exactly the
// code the tests run. Lazy `import()`s stay lazy: esbuild defers those
// modules' evaluation until first use, and the host agent's commands are not
// even parsed before one runs (commandsCompiledOnUse).
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'deploy/dist');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, keepNames: true, logLevel: 'warning' };

// The bundles run on Node 20 and later. An older node (Debian 12's own is
// 18) gets one clear line, and exit 5 (a missing tool), before any code that
// could fail on it with a syntax or import error; the CNI plugin says it in
// the spec's JSON.
const tooOld = (report) => `if(+process.versions.node.split('.')[0]<20){${report};process.exit(process.exitCode)}`;
const agentCheck = (agent) =>
  tooOld(`process.stderr.write('${agent}: needs Node.js 20 or later; this is '+process.version+'\\n');process.exitCode=5`);
const cniCheck = tooOld(
  "process.stdout.write(JSON.stringify({cniVersion:'1.0.0',code:105," +
    "msg:'guestnet needs Node.js 20 or later; this is '+process.version})+'\\n');process.exitCode=1",
);

// Code compiled on first use rides at the end of the bundle, in comments, and
// is read back from the file when it is needed. V8 pre-parses every function
// of a script before it runs any, and scans and copies every string literal;
// a comment it only skips. The text is escaped so that it cannot end its comment.
const TRAILER_OPEN = '/*guestnet-on-use ';
const trailers = new Map();
const inTrailer = (text) => text.replace(/%|\*\//g, (m) => (m === '%' ? '%25' : '%2A/'));
const TRAILER_READER = `function __guestnetOnUse(name){const t=require('node:fs').readFileSync(__filename,'utf8'),open=${JSON.stringify(TRAILER_OPEN)}+name+'\\n',at=t.lastIndexOf(open);if(at<0)throw new Error(__filename+' is damaged: '+name+' is missing');return t.slice(at+open.length,t.indexOf('\\n*/',at)).replace(/%2A\\/|%25/g,(m)=>m==='%25'?'%':'*/')}`;

/** An expression, in the bundle, whose value is `code`, read from its trailer. */
function onUse(name, code) {
  trailers.set(name, `${TRAILER_OPEN}${name}\n${inTrailer(code)}\n*/`);
  return `__guestnetOnUse(${JSON.stringify(name)})`;
}

// winston, with the streams it brings, is much of the host agent's bundle,
// and only a running command that logs needs it: compiled on the first log line.
async function compiledOnUse(specifier) {
  const built = await build({
    stdin: { contents: `module.exports = require('${specifier}');`, resolveDir: join(root, 'host-agent'), loader: 'js' },
    ...common,
    keepNames: false,
    legalComments: 'inline',
    write: false,
  });
  const source = onUse(specifier, built.outputFiles[0].text);
  return {
    name: `compile-${specifier}-on-use`,
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${specifier}$`) }, () => ({ path: specifier, namespace: 'compiled-on-use' }));
      b.onLoad({ filter: /.*/, namespace: 'compiled-on-use' }, () => ({
        loader: 'js',
        contents: `const m = { exports: {} };
require('node:vm').runInThisContext('(function (exports, require, module) {' + ${source} + '\\n})', { filename: '${specifier} (in ' + __filename + ')' })(m.exports, require, m);
module.exports = m.exports;`,
      }));
    },
  };
}

// Node compiles a built-in module that is not in its start-up snapshot the
// first time it is required, and esbuild hoists every require to the top of
// the bundle, so each start paid for child_process, crypto, net and the rest
// (tty requires net)
// whether the command used them or not. Each becomes a module of forwarding
// functions that requires the real one on the first call. Only functions are
// forwarded: a build that imports anything else from them fails here, loudly.
const ON_FIRST_USE = ['child_process', 'crypto', 'dgram', 'net', 'readline', 'tty'];
const builtinsOnFirstUse = {
  name: 'builtins-on-first-use',
  setup(b) {
    const filter = new RegExp(`^node:(${ON_FIRST_USE.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'on-first-use' ? { path: args.path, external: true } : { path: args.path, namespace: 'on-first-use' },
    );
    b.onLoad({ filter: /.*/, namespace: 'on-first-use' }, async (args) => {
      const real = await import(args.path);
      const names = Object.keys(real).filter((name) => name !== 'default' && typeof real[name] === 'function');
      const forwards = names.map((name) => `export function ${name}(...args) { return load().${name}(...args); }`);
      return {
        loader: 'js',
        contents: [`let loaded;`, `const load = () => (loaded ??= require('${args.path}'));`, ...forwards].join('\n'),
      };
    });
  },
};

// --help and a mistyped flag paid for every command's code. The host agent's
// commands (the engine, the daemon) go in as one trailer, compiled when a
// command first runs. Modules the CLI itself loads are not copied into it: the
// commands get the CLI's own instances (one logger, one set of error classes),
// handed over when they are compiled.
const CLI_COMMANDS = /^\.\/commands\/[a-z-]+\.js$/;

async function commandsCompiledOnUse(entry, extraPlugins) {
  const resolveDir = dirname(entry);
  const externalCommands = {
    name: 'commands-external',
    setup(b) {
      b.onResolve({ filter: CLI_COMMANDS }, (args) => ({ path: args.path, external: true }));
    },
  };
  // What the CLI loads at start, commands aside.
  const shell = await build({
    ...common,
    entryPoints: [entry],
    write: false,
    outfile: 'shell.cjs',
    metafile: true,
    plugins: [externalCommands, builtinsOnFirstUse, ...extraPlugins],
  });
  const inShell = new Set(Object.keys(shell.metafile.inputs).map((input) => join(root, input)));
  const commandNames = [...new Set([...readFileSync(entry, 'utf8').matchAll(/import\('(\.\/commands\/[a-z-]+\.js)'\)/g)].map((m) => m[1]))];
  const shared = new Map();
  const fromShell = {
    name: 'shared-with-the-cli',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.namespace === 'shared' || args.pluginData === 'resolving' || args.kind === 'entry-point') return undefined;
        const found = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'resolving' });
        if (!inShell.has(found.path)) return undefined;
        if (!shared.has(found.path)) shared.set(found.path, `m${shared.size}`);
        return { path: found.path, namespace: 'shared' };
      });
      b.onLoad({ filter: /.*/, namespace: 'shared' }, (args) => ({
        loader: 'js',
        contents: `module.exports = __fromCli.${shared.get(args.path)};`,
      }));
    },
  };
  const commands = await build({
    ...common,
    stdin: { contents: commandNames.map((path, i) => `export * as c${i} from '${path}';`).join('\n'), resolveDir, loader: 'js' },
    write: false,
    metafile: true,
    plugins: [fromShell, builtinsOnFirstUse],
  });
  // A module of ours in both would be two instances (two loggers, two error classes that instanceof tells apart);
  // the forwarders to built-ins hold nothing of their own.
  const twice = Object.keys(commands.metafile.inputs).filter(
    (input) => !input.startsWith('on-first-use:') && inShell.has(join(root, input)),
  );
  if (twice.length > 0) throw new Error(`bundle: in both the CLI and its commands: ${twice.join(', ')}`);
  const source = `'(function (exports, require, module, __fromCli) {' + ${onUse('commands', commands.outputFiles[0].text)} + '\\n})'`;
  const loader = [
    ...[...shared].map(([path, key]) => `import * as ${key} from ${JSON.stringify(path)};`),
    `import { runInThisContext } from 'node:vm';`,
    `let loaded;`,
    `export function load() {`,
    `  if (!loaded) { const m = { exports: {} }; runInThisContext(${source}, { filename: 'commands (in ' + __filename + ')' })(m.exports, require, m, { ${[...shared.values()].join(', ')} }); loaded = m.exports; }`,
    `  return loaded;`,
    `}`,
  ].join('\n');
  return {
    name: 'commands-compiled-on-use',
    setup(b) {
      b.onResolve({ filter: CLI_COMMANDS }, (args) => ({ path: args.path, namespace: 'command' }));
      b.onResolve({ filter: /^guestnet-commands$/ }, () => ({ path: 'guestnet-commands', namespace: 'commands' }));
      b.onLoad({ filter: /.*/, namespace: 'commands' }, () => ({ loader: 'js', contents: loader, resolveDir }));
      b.onLoad({ filter: /.*/, namespace: 'command' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require('guestnet-commands').load().c${commandNames.indexOf(args.path)};`,
      }));
    },
  };
}

// The CNI plugin is named by the runtime's "type": install it as /opt/cni/bin/guestnet.
const winston = await compiledOnUse('winston');
const BUNDLES = [
  [
    'host-agent/dist/cli.js',
    'host-agent.cjs',
    agentCheck('host-agent'),
    [winston, await commandsCompiledOnUse(join(root, 'host-agent/dist/cli.js'), [winston])],
  ],
  ['guest-agent/dist/cli.js', 'guest-agent.cjs', agentCheck('guest-agent'), []],
  ['host-agent/dist/cni/main.js', 'guestnet', cniCheck, []],
];

for (const [entry, name, versionCheck, plugins] of BUNDLES) {
  const outfile = join(outdir, name);
  await build({
    ...common,
    entryPoints: [join(root, entry)],
    outfile,
    legalComments: 'eof',
    banner: { js: `#!/usr/bin/env node\n${versionCheck}${plugins.length > 0 ? `\n${TRAILER_READER}` : ''}` },
    footer: { js: [...trailers.values()].join('\n') },
    plugins: [builtinsOnFirstUse, ...plugins],
  });
  trailers.clear();
  chmodSync(outfile, 0o755);
  console.log(`${outfile}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
}
