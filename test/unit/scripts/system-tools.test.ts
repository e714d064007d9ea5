import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { iptables, nftables } from '@guestnet/host-agent';

// What each command installs (scripts/system-tools.mjs, used by scripts/ensure.mjs):
// the demo only what the demo runs, the bench and the tests what they add, and the
// README says exactly that.

const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface Need {
  command?: string;
  file?: string;
  package: string;
}
interface SystemTools {
  NEEDS: Record<string, Need[]>;
  PURPOSES: string[];
  needsOf(purpose: string): Need[];
  packagesOf(needs: Need[]): string[];
  readmeSetup(): string;
  README_BEGIN: string;
  README_END: string;
}
const tools = (await import(pathToFileURL(join(root, 'scripts/system-tools.mjs')).href)) as SystemTools;

const read = (path: string) => readFileSync(join(root, path), 'utf8');
function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return name === 'dist' ? [] : sources(path);
    return /\.(ts|py|mjs)$/.test(name) ? [path] : [];
  });
}
const commandsOf = (needs: Need[]) => needs.flatMap((need) => (need.command ? [need.command] : []));
/** Whether a source names `word` as a string of its own: a command in an argv, a path's last part. */
const named = (text: string, word: string) => new RegExp(`['"\`/]${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"\` ]`).test(text);

describe('scripts/system-tools: what each command installs', () => {
  const demo = tools.needsOf('demo');
  const bench = tools.needsOf('bench');
  const test = tools.needsOf('test');

  it('gives each purpose what the ones before it need too: the demo, then the bench, then the tests', () => {
    assert.deepEqual(tools.PURPOSES, ['demo', 'bench', 'test']);
    for (const need of demo) assert.ok(bench.includes(need) && test.includes(need), JSON.stringify(need));
    for (const need of bench) assert.ok(test.includes(need), JSON.stringify(need));
    assert.throws(() => tools.needsOf('everything'), /unknown purpose 'everything'/);
  });

  it("installs for the demo the agents' tools and the sandbox's, and none of what only the tests and the bench run", () => {
    const agentTools = [...read('host-agent/src/net/tools.ts').matchAll(/binary: '([^']+)', debianPackage: '([^']+)'/g)].map((m) => ({
      command: m[1] as string,
      package: m[2] as string,
    }));
    assert.ok(agentTools.length >= 2, 'the host agent names its base tools');
    for (const tool of [...agentTools, nftables.tool, iptables('iptables').tool].map((t) =>
      'binary' in t ? { command: t.binary, package: t.debianPackage } : t,
    ))
      assert.ok(
        demo.some((need) => need.command === tool.command && need.package === tool.package),
        `the demo lacks ${tool.command} (${tool.package})`,
      );
    // The demo's sandbox: namespaces and links (ip), a host firewall (nft), guests (unshare), commands in a guest (nsenter).
    const sandbox = read('test/fixtures/sandbox.ts');
    for (const command of ['ip', 'nft', 'unshare', 'nsenter']) {
      assert.ok(named(sandbox, command), `the sandbox no longer runs ${command}: update this test`);
      assert.ok(commandsOf(demo).includes(command), `the demo lacks ${command}`);
    }
    const demoPackages = tools.packagesOf(demo);
    for (const pkg of ['podman', 'lxc', 'tayga', 'radvd', 'dnsmasq-base', 'iperf3', 'strace', 'python3', 'ndisc6'])
      assert.ok(!demoPackages.includes(pkg), `the demo installs ${pkg}`);
    for (const pkg of ['containernetworking-plugins', 'isc-dhcp-client', 'dhcpcd-base', 'busybox-static'])
      assert.ok(!demoPackages.includes(pkg), `the demo installs ${pkg}`);
  });

  it('installs nothing for the bench that the bench does not run, nor for the tests that no test runs', () => {
    // The bench runs what the fixtures it imports run too (the sandbox's, the NIC stand-in's).
    const benchOwn = sources('test/bench').map(read).join('\n');
    const benchFixtures = [...new Set([...benchOwn.matchAll(/from '\.\.\/fixtures\/([\w-]+)\.js'/g)].map((m) => m[1]))];
    const benchText = [benchOwn, ...benchFixtures.map((name) => read(`test/fixtures/${name}.ts`))].join('\n');
    for (const need of tools.NEEDS.bench ?? [])
      assert.ok(named(benchText, need.command ?? (need.file?.split('/').at(-1) as string)), `the bench never runs ${JSON.stringify(need)}`);
    const testText = [...sources('test/fixtures'), ...sources('test/integration'), ...sources('test/unit')]
      .filter((path) => !path.endsWith('system-tools.test.ts'))
      .map(read)
      .join('\n');
    for (const need of tools.NEEDS.test ?? []) assert.ok(named(testText, need.command as string), `no test runs ${need.command}`);
  });

  it('is what npm run demo, npm run bench, npm test and CI ask for', () => {
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
    assert.match(scripts.demo ?? '', /^node scripts\/ensure\.mjs demo && /);
    assert.match(scripts.bench ?? '', /^node scripts\/ensure\.mjs bench && /);
    assert.match(scripts.test ?? '', /^node scripts\/ensure\.mjs test --node-releases && /);
    const ci = read('.ci/run');
    assert.match(ci, /^node scripts\/ensure\.mjs test --node-releases$/m);
    // CI lints before the 12-minute suite, so a lint failure is reported first and cheaply.
    const lint = ci.search(/^npm run lint$/m);
    assert.ok(lint >= 0, '.ci/run does not run npm run lint');
    assert.ok(lint < ci.search(/^npm test$/m), '.ci/run runs npm run lint after npm test');
    // Biome exits 0 on a warning (an unused import) unless told otherwise.
    assert.match(scripts.lint ?? '', /^biome check --error-on-warnings \. && /);
    // A purpose it does not know is refused before anything is installed or built.
    const refused = spawnSync(process.execPath, [join(root, 'scripts/ensure.mjs'), 'everything'], { encoding: 'utf8' });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, '');
    assert.equal(refused.stderr, 'ensure: usage: node scripts/ensure.mjs [demo|bench|test] [--node-releases]\n');
  });

  it("is what the README's setup section says, exactly, with the Node.js releases npm test runs on", () => {
    const readme = read('README.md');
    const begin = readme.indexOf(tools.README_BEGIN);
    const end = readme.indexOf(tools.README_END);
    assert.ok(begin >= 0 && end > begin, 'README.md has no setup section');
    const section = readme.slice(begin + tools.README_BEGIN.length, end).trim();
    assert.equal(section, tools.readmeSetup(), 'README.md is stale: run node scripts/system-tools.mjs --write-readme');
    for (const pkg of tools.packagesOf(test)) assert.ok(section.includes(`\`${pkg}\``), pkg);
  });
});
