#!/usr/bin/env node
// `npm run bundle`: the agents and the CNI plugin as CommonJS files in
// deploy/dist that run as `node FILE` with no node_modules beside them (a
// device, a guest image, an initramfs). Built from the compiled dist/ so they
// run exactly the code the tests run. Lazy `import()`s stay lazy: esbuild
// defers those modules' evaluation until first use.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { splitProgram } from './split-program.mjs';

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

// Node compiles a built-in module that is not in its start-up snapshot the
// first time it is required, and esbuild hoists every require to the top of
// the bundle, so each start paid for child_process, crypto, net and the rest
// (tty requires net)
// whether the command used them or not. Each becomes a module of forwarding
// functions that requires the real one on the first call. Only functions are
// forwarded: a build that imports anything else from them fails here, loudly.
const ON_FIRST_USE = ['child_process', 'crypto', 'dgram', 'fs/promises', 'net', 'readline', 'tty'];
/** The plugin that defers `modules` (of ON_FIRST_USE) to their first use. */
const onFirstUse = (modules) => ({
  name: 'builtins-on-first-use',
  setup(b) {
    const filter = new RegExp(`^node:(${modules.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'on-first-use'
        ? { path: args.path, external: true }
        : // Forwarding functions do nothing as they load: a module that imports one and uses none of it is left out.
          { path: args.path, namespace: 'on-first-use', sideEffects: false },
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
});
const builtinsOnFirstUse = onFirstUse(ON_FIRST_USE);
// A guest agent that runs waits for its link, and then its first session
// needs net and crypto at once: loaded on first use, they would be compiled
// on that attach's path. It loads them as it starts, long before.
const SESSION_BUILTINS = ['crypto', 'net'];
const guestAgentBuiltins = onFirstUse(ON_FIRST_USE.filter((name) => !SESSION_BUILTINS.includes(name)));

// winston, with the streams it brings, is a large part of the host agent (the
// table of sizes in docs/deploy.md shows how large), and only a command that
// writes a log line needs it; V8 reads every function of a file it loads, used
// or not. So it is a file of its own beside the host agent,
// required on the first log line. It holds nothing of ours, so nothing passes
// between the two files. Its name is a hash of its content: a daemon that
// requires it late, after another build replaced the files, gets the winston
// its own build named or an error, never another build's.
const WINSTON = 'host-agent-winston';
const winston = (
  await build({
    stdin: { contents: "module.exports = require('winston');", resolveDir: join(root, 'host-agent'), loader: 'js' },
    ...common,
    keepNames: false,
    legalComments: 'inline',
    write: false,
  })
).outputFiles[0].contents;
const winstonFile = `${WINSTON}-${createHash('sha256').update(winston).digest('hex').slice(0, 16)}.cjs`;
const winstonBeside = {
  name: 'winston-beside',
  setup(b) {
    b.onResolve({ filter: /^winston$/ }, () => ({ path: `./${winstonFile}`, external: true }));
  },
};

const outputs = [[winstonFile, winston, 0o644]];
outputs.push(
  ...(await splitProgram(common, {
    entry: 'host-agent/dist/cli.js',
    name: 'host-agent.cjs',
    banner: `#!/usr/bin/env node\n${agentCheck('host-agent')}`,
    engine: 'host-agent/dist/engine.js',
    plugins: [builtinsOnFirstUse, winstonBeside],
  })),
);
const guestAgent = await build({
  ...common,
  entryPoints: [join(root, 'guest-agent/dist/cli.js')],
  write: false,
  legalComments: 'eof',
  banner: { js: `#!/usr/bin/env node\n${agentCheck('guest-agent')}` },
  supported: { 'dynamic-import': false },
  plugins: [guestAgentBuiltins],
});
outputs.push(['guest-agent.cjs', guestAgent.outputFiles[0].contents, 0o755]);
// The CNI plugin is named by the runtime's "type": install it as /opt/cni/bin/guestnet.
outputs.push(
  ...(await splitProgram(common, {
    entry: 'host-agent/dist/cni/main.js',
    name: 'guestnet',
    banner: `#!/usr/bin/env node\n${cniCheck}`,
    engine: 'host-agent/dist/cni/engine.js',
    plugins: [builtinsOnFirstUse],
  })),
);
// The root package.json says "type": "module", which would make node read
// `guestnet`, which has no extension, as an ES module.
outputs.push(['package.json', new TextEncoder().encode('{ "type": "commonjs" }\n'), 0o644]);

// Each file is written beside its place and renamed over it: a process that
// starts, or requires a file, while the build runs reads a whole file.
mkdirSync(outdir, { recursive: true });
for (const [name, contents, mode] of outputs) {
  const path = join(outdir, name);
  writeFileSync(`${path}.tmp`, contents, { mode });
  chmodSync(`${path}.tmp`, mode);
  renameSync(`${path}.tmp`, path);
  if (name !== 'package.json') console.log(`${path}  ${(contents.length / 1024).toFixed(0)} KiB`);
}
// An earlier build's hashed files, which no file of this build names.
const built = new Set(outputs.map(([name]) => name));
for (const name of readdirSync(outdir)) if (/-[0-9a-f]{16}\.cjs$/.test(name) && !built.has(name)) rmSync(join(outdir, name));
