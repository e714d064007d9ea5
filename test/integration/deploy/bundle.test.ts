import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import ts from 'typescript';
import { NODE, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIST = join(ROOT, 'deploy/dist');
/** A file required from beside another, named by a hash of its content: winston's, and the shared, common, commands and engine files of a split program. */
const HASHED = /^(.+)-([0-9a-f]{16})\.cjs$/;

/** Every comment in a script, found by a real parser: a string or a regular expression may hold a comment's characters. */
function commentsOf(text: string): string[] {
  const source = ts.createSourceFile('bundle.js', text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const found = new Map<number, string>();
  const visit = (node: ts.Node) => {
    for (const range of [...(ts.getLeadingCommentRanges(text, node.pos) ?? []), ...(ts.getTrailingCommentRanges(text, node.end) ?? [])])
      found.set(range.pos, text.slice(range.pos, range.end));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found.values()];
}

/** The table of files and sizes in docs/deploy.md: name (`<hash>` for a hash) to KiB. */
async function documentedSizes(): Promise<Map<string, number>> {
  const doc = await readFile(join(ROOT, 'docs/deploy.md'), 'utf8');
  return new Map([...doc.matchAll(/^\| `([^`]+)` +\| +(\d+) KiB +\|/gm)].map((m) => [m[1] as string, Number(m[2])]));
}

describe('npm run bundle: files that run with no node_modules beside them', function () {
  this.timeout(180_000);
  let files: string[];
  let empty: string;

  before(async () => {
    const built = await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    files = [...built.stdout.matchAll(/deploy\/dist\/(\S+) +\d+ KiB$/gm)].map((m) => m[1] as string);
    // Far from the repo: nothing can be resolved from a node_modules, and no package.json says how to read a file.
    empty = await mkdtemp(join(tmpdir(), 'guestnet-bundle-'));
    for (const name of files) await copyFile(join(DIST, name), join(empty, name));
  });
  after(async () => {
    if (empty) await rm(empty, { recursive: true, force: true });
  });

  // The sizes are there to size storage (a device partition, an initramfs, a guest image), where
  // 10% (or 2 KiB, for a small file) changes no decision; a tighter bound would fail on most features added to an agent.
  it('builds the files docs/deploy.md lists, at the sizes it gives, within 10% or 2 KiB', async () => {
    const documented = await documentedSizes();
    const asDocumented = (name: string) => name.replace(HASHED, '$1-<hash>.cjs');
    assert.deepEqual(files.map(asDocumented).sort(), [...documented.keys()].sort());
    for (const name of files) {
      const kib = (await readFile(join(DIST, name))).length / 1024;
      const doc = documented.get(asDocumented(name)) as number;
      assert.ok(Math.abs(kib - doc) <= Math.max(doc * 0.1, 2), `${name}: ${kib.toFixed(0)} KiB built, ${doc} KiB in docs/deploy.md`);
    }
  });

  it('no file compiles code at run time or carries code in comments', async () => {
    for (const name of files) {
      const text = await readFile(join(DIST, name), 'utf8');
      for (const trick of ['runInThisContext', '__guestnetOnUse', 'guestnet-on-use', 'node:vm', 'require("vm")'])
        assert.ok(!text.includes(trick), `${name} contains ${trick}`);
      // esbuild keeps only licence comments: code carried in a comment would be read at every start for nothing.
      const comments = commentsOf(text);
      const bytes = comments.reduce((sum, comment) => sum + comment.length, 0);
      assert.ok(bytes < 2048, `${name}: ${bytes} bytes of comments: ${comments.map((c) => c.slice(0, 60)).join(' | ')}`);
    }
  });

  it('each file required from beside another is named by its content, and every one is required by a file of the build', async () => {
    const hashed = files.filter((name) => HASHED.test(name));
    assert.deepEqual(hashed.map((name) => HASHED.exec(name)?.[1]).sort(), [
      'guestnet-engine',
      'guestnet-shared',
      'host-agent-commands',
      'host-agent-common',
      'host-agent-engine',
      'host-agent-shared',
      'host-agent-winston',
    ]);
    const required = new Set<string>();
    for (const name of files) {
      const text = await readFile(join(DIST, name), 'utf8');
      for (const m of text.matchAll(/require\("\.\/([^"]+)"\)/g)) required.add(m[1] as string);
      if (!HASHED.test(name)) continue;
      const hash = createHash('sha256').update(text).digest('hex');
      assert.equal(HASHED.exec(name)?.[2], hash.slice(0, 16), name);
    }
    assert.deepEqual([...required].sort(), hashed.sort());
  });

  for (const [where, dir] of [
    ['where npm run bundle writes them', () => DIST],
    ['copied alone to an empty directory', () => empty],
  ] as const) {
    describe(where, () => {
      let sandbox: Sandbox;
      const bundle = (name: string) => join(dir(), name);
      before(async () => {
        sandbox = await Sandbox.create();
      });
      after(async () => sandbox?.destroy());

      it('--help of both agents, --version and VERSION of the CNI plugin', async () => {
        for (const name of ['host-agent.cjs', 'guest-agent.cjs']) {
          const help = await execa(NODE, [bundle(name), '--help'], { cwd: dir() });
          assert.match(help.stdout, /^Usage: (host|guest)-agent/);
        }
        // Run as a runtime runs it: the file itself, through its #! line.
        // Its #! line runs the node on PATH: the one under test.
        const onPath = { PATH: `${dirname(NODE)}:${process.env.PATH}` };
        const version = await execa(bundle('guestnet'), ['--version'], { cwd: dir(), env: onPath });
        assert.match(version.stdout, /^guestnet \S+ \(CNI plugin; CNI [\d., ]+\)$/);
        const cni = await execa(bundle('guestnet'), [], { env: { ...onPath, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.1.0"}' });
        assert.equal(JSON.parse(cni.stdout).cniVersion, '1.1.0');
      });

      it('the bundled daemon, CLI and guest agent attach a guest that gets online, and detach it; the daemon logs through winston', async () => {
        const daemon = await sandbox.startDaemon([], bundle('host-agent.cjs'));
        try {
          const guest = await sandbox.startGuest({ agentScript: bundle('guest-agent.cjs') });
          const attach = await sandbox.hostAgent(['attach', String(guest.pid)], bundle('host-agent.cjs'));
          assert.equal(attach.exitCode, 0, attach.stderr);
          assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
          const detach = await sandbox.hostAgent(['detach', String(guest.pid)], bundle('host-agent.cjs'));
          assert.equal(detach.exitCode, 0, detach.stderr);
          await guest.kill();
        } finally {
          await daemon.stop();
        }
        // winston's JSON lines: its own file loaded.
        const lines = daemon
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line));
        assert.ok(
          lines.some((line) => line.message === 'serving'),
          daemon.output(),
        );
      });
    });
  }

  // Node 20 is the oldest the bundles claim, and CI runs it. Debian 12's own node is 18: a
  // preload makes this node report 18, as the first thing each bundle checks.
  it('on a node older than 20, each bundle says so in one line, before anything else runs', async () => {
    const preload = join(empty, 'node18.cjs');
    await writeFile(
      preload,
      "Object.defineProperty(process.versions, 'node', { value: '18.20.4' });\nObject.defineProperty(process, 'version', { value: 'v18.20.4' });\n",
    );
    for (const agent of ['host-agent', 'guest-agent']) {
      const old = await execa(NODE, ['-r', preload, join(empty, `${agent}.cjs`), '--help'], { reject: false });
      assert.deepEqual([old.exitCode, old.stdout, old.stderr], [5, '', `${agent}: needs Node.js 20 or later; this is v18.20.4`]);
    }
    const cni = await execa(NODE, ['-r', preload, join(empty, 'guestnet')], { reject: false, env: { CNI_COMMAND: 'VERSION' } });
    assert.equal(cni.exitCode, 1);
    assert.deepEqual(JSON.parse(cni.stdout), {
      cniVersion: '1.0.0',
      code: 105,
      msg: 'guestnet needs Node.js 20 or later; this is v18.20.4',
    });
  });
});
