#!/usr/bin/env node
// `npm run bundle`: one self-contained CommonJS file per agent in deploy/dist,
// runnable as `node FILE` with no node_modules beside it (a device, a guest
// image, an initramfs). Built from the compiled dist/ so it runs exactly the
// code the tests run. Lazy `import()`s stay lazy: esbuild defers those
// modules' evaluation until first use, so --help does not run winston.
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'deploy/dist');

// The bundles run on Node 20 and later. An older node (Debian 12's own is
// 18) gets one clear line, and exit 5 (a missing tool), before any code that
// could fail on it with a syntax or import error; the CNI plugin says it in
// the spec's JSON.
const tooOld = (report) =>
  `if(+process.versions.node.split('.')[0]<20){${report};process.exit(process.exitCode)}`;
const agentCheck = (agent) =>
  tooOld(`process.stderr.write('${agent}: needs Node.js 20 or later; this is '+process.version+'\\n');process.exitCode=5`);
const cniCheck = tooOld(
  `process.stdout.write(JSON.stringify({cniVersion:'1.0.0',code:105,msg:'guestnet needs Node.js 20 or later; this is '+process.version})+'\\n');process.exitCode=1`,
);

// winston, with the streams it brings, is much of the host agent's bundle,
// and only a running command that logs needs it. V8 parses every function of a
// script before it starts, however lazily it is evaluated, so every CLI start
// paid for it. It goes in as a string, compiled on the first log line: a string
// costs V8 a scan, not a parse.
async function compiledOnUse(specifier) {
  const built = await build({
    stdin: { contents: `module.exports = require('${specifier}');`, resolveDir: join(root, 'host-agent'), loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    legalComments: 'inline',
    write: false,
    logLevel: 'warning',
  });
  const source = JSON.stringify(built.outputFiles[0].text);
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
      return { loader: 'js', contents: [`let loaded;`, `const load = () => (loaded ??= require('${args.path}'));`, ...forwards].join('\n') };
    });
  },
};

// The CNI plugin is named by the runtime's "type": install it as /opt/cni/bin/guestnet.
const BUNDLES = [
  ['host-agent/dist/cli.js', 'host-agent.cjs', agentCheck('host-agent'), [await compiledOnUse('winston')]],
  ['guest-agent/dist/cli.js', 'guest-agent.cjs', agentCheck('guest-agent'), []],
  ['host-agent/dist/cni/main.js', 'guestnet', cniCheck, []],
];

for (const [entry, name, versionCheck, plugins] of BUNDLES) {
  const outfile = join(outdir, name);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    legalComments: 'eof',
    banner: { js: `#!/usr/bin/env node\n${versionCheck}` },
    logLevel: 'warning',
    plugins: [builtinsOnFirstUse, ...plugins],
  });
  chmodSync(outfile, 0o755);
  console.log(`${outfile}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
}
