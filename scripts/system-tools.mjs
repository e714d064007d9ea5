// What each command needs from the system, as Debian packages apt installs
// (scripts/ensure.mjs). Each purpose adds to the one before it: `npm run demo`
// needs only the agents' own tools and its sandbox's, `npm run bench` adds its
// measuring tools and the CNI plugins it compares with, and `npm test` adds
// the real software its integration tests run guestnet against (npm test runs
// the bench's smoke run too). The README's setup section is written from these
// lists (`node scripts/system-tools.mjs --write-readme`), and a unit test fails
// when it differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MAIN_MAJOR, RELEASES } from './node-releases.mjs';

/**
 * Each need is a command found on PATH (or in /usr/sbin, /sbin), or a file,
 * and the Debian package that brings it.
 */
export const NEEDS = {
  demo: [
    // The host agent: links and routes, a guest's netns, and its two firewall backends.
    { command: 'ip', package: 'iproute2' },
    { command: 'nsenter', package: 'util-linux' },
    { command: 'nft', package: 'nftables' },
    { command: 'iptables', package: 'iptables' },
    // The sandbox's guests: a process in a netns and a pid namespace of its own.
    { command: 'unshare', package: 'util-linux' },
  ],
  bench: [
    // Data-path throughput, guest and host.
    { command: 'iperf3', package: 'iperf3' },
    // The processes an attach starts, counted from their execve and exit.
    { command: 'strace', package: 'strace' },
    // The storms' probe, one process that enters every guest's netns (test/bench/storm-probe.py).
    { command: 'python3', package: 'python3' },
    // The guest agent's pid, found under the guest's first process; a deadline on each probe.
    { command: 'pgrep', package: 'procps' },
    { command: 'timeout', package: 'coreutils' },
    // The phys NIC stand-in's look at ip's JSON (test/fixtures/nic-stand-in.ts), which the bench and the tests use.
    { command: 'jq', package: 'jq' },
    // What guestnet is compared with: CNI's ptp with host-local, bridge, macvlan and host-device.
    { file: '/usr/lib/cni/ptp', package: 'containernetworking-plugins' },
  ],
  test: [
    // Processes that must not outlive a test.
    { command: 'pkill', package: 'procps' },
    // A command run as another user, for the not-root errors.
    { command: 'setpriv', package: 'util-linux' },
    // The LXC deploy test runs a real container from a busybox rootfs.
    { command: 'lxc-start', package: 'lxc' },
    { command: 'busybox', package: 'busybox-static' },
    // The CNI plugin under a real runtime: podman 4 with its CNI backend (crun and conmon come with it).
    { command: 'podman', package: 'podman' },
    // A carrier's 464XLAT: tayga as the host's CLAT and as the operator's NAT64.
    { command: 'tayga', package: 'tayga' },
    // IPv6 uplinks whose default route comes from router advertisements, and guests that advertise themselves.
    { command: 'radvd', package: 'radvd' },
    // A host that solicits router advertisements (rdisc6) and a guest that floods neighbour solicitations (ndisc6).
    { command: 'rdisc6', package: 'ndisc6' },
    { command: 'ndisc6', package: 'ndisc6' },
    // A LAN's DHCP server for the network types' tests.
    { command: 'dnsmasq', package: 'dnsmasq-base' },
    // Debian guests' DHCP clients, for the host's DHCP tests.
    { command: 'dhclient', package: 'isc-dhcp-client' },
    { command: 'dhcpcd', package: 'dhcpcd-base' },
  ],
};

/** The purposes, each needing what the ones before it need too. */
export const PURPOSES = Object.keys(NEEDS);

/** Everything `purpose` needs: its own needs and those of every purpose before it. */
export function needsOf(purpose) {
  const upTo = PURPOSES.indexOf(purpose);
  if (upTo < 0) throw new Error(`unknown purpose '${purpose}' (one of ${PURPOSES.join(', ')})`);
  return PURPOSES.slice(0, upTo + 1).flatMap((p) => NEEDS[p]);
}

/** The packages `needs` name, each once, in order. */
export const packagesOf = (needs) => [...new Set(needs.map((need) => need.package))];

/** The packages that bring the needs `present` says are missing. */
export const missingPackages = (needs, present) => packagesOf(needs.filter((need) => !present(need)));

const COMMANDS = { demo: 'npm run demo', bench: 'npm run bench', test: 'npm test' };
const list = (words) => words.map((word) => `\`${word}\``).join(', ');

/** A markdown table, its columns padded to one width as the other tables of the docs are. */
export function table(header, rows) {
  const widths = header.map((cell, i) => Math.max(cell.length, 3, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
const inWords = (words, and = 'and') => `${words.slice(0, -1).join(', ')} ${and} ${words.at(-1)}`;

/** The README's setup section: what each command installs, and the Node.js releases `npm test` runs on. */
export function readmeSetup() {
  const rows = PURPOSES.map((purpose, i) => {
    const own = packagesOf(NEEDS[purpose]);
    const before = new Set(packagesOf(PURPOSES.slice(0, i).flatMap((p) => NEEDS[p])));
    const added = own.filter((pkg) => !before.has(pkg)).sort();
    const prefix = i === 0 ? '' : `what \`${COMMANDS[PURPOSES[i - 1]]}\` installs, and `;
    return [`\`${COMMANDS[purpose]}\``, `${prefix}${list(added)}`];
  });
  const main = RELEASES.find((r) => r.major === MAIN_MAJOR);
  const others = RELEASES.filter((r) => r !== main);
  return [
    'Each command first installs, with apt, the Debian packages it needs and lacks, then the npm',
    'dependencies from the lockfile, and then it builds:',
    '',
    table(['command', 'Debian packages'], rows),
    '',
    `guestnet supports Node.js ${inWords(RELEASES.map((r) => r.major).sort((a, b) => a - b))}, and \`npm test\` tests each:`,
    `the whole suite on ${main.major}, the current LTS, then the unit tests, the deploy tests and the demo on`,
    `${inWords(others.map((r) => r.major))}. A major other than the node that runs \`npm test\` runs on the exact release`,
    `pinned in [scripts/node-releases.mjs](scripts/node-releases.mjs) (${inWords(
      RELEASES.map((r) => r.version),
      'or',
    )}),`,
    'fetched from the npm registry once and checked against its pinned integrity.',
  ].join('\n');
}

export const README_BEGIN = '<!-- begin setup: written by `node scripts/system-tools.mjs --write-readme`, do not edit -->';
export const README_END = '<!-- end setup -->';

/** `text` with the part between the markers replaced by `content`. */
export function withRegion(text, content) {
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`no '${README_BEGIN}' ... '${README_END}' region`);
  return `${text.slice(0, begin + README_BEGIN.length)}\n${content}\n${text.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv.includes('--write-readme')) {
  const readme = fileURLToPath(new URL('../README.md', import.meta.url));
  writeFileSync(readme, withRegion(readFileSync(readme, 'utf8'), readmeSetup()));
}
