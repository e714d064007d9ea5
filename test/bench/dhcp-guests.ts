import { join } from 'node:path';
import { type Client, startClient } from '../fixtures/dhcp-guests.js';
import type { Guest, Sandbox } from '../fixtures/sandbox.js';
import { median, ms, must, p95, untilOnline } from './measure.js';
import type { AttachFigure } from './report.js';
import { daemonAttach, daemonDetach, HOST_BUNDLE, online } from './systems.js';

// A guest with no agent, only busybox udhcpc, from the start of its attach
// until it has its address and default route and reaches the sandbox's
// server through NAT: guestnet's daemon with --guest-config dhcp, against
// Waydroid's way (waydroid-net.sh, a copy of lxc-net): a bridge with an
// address, dnsmasq on it run as waydroid-net runs it (--bind-interfaces,
// --dhcp-authoritative, its own pid and lease files), a MASQUERADE rule for
// the bridge's subnet, and for each start a veth pair with its host end made
// a port of the bridge (LXC's veth type) and its guest end up. Both are
// long-running services set up once, outside the times; each timed attach is
// a fresh guest whose udhcpc starts once its link is there.

const BRIDGE = { name: 'wdbr0', address: '192.168.240.1', subnet: '192.168.240.0/24', range: '192.168.240.2,192.168.240.254' };
/**
 * Waydroid's LXC config gives the container this fixed MAC, so dnsmasq finds
 * its lease from the last start and offers it at once. A new MAC would make
 * dnsmasq ping the address first and wait out its ping timeout: the untimed
 * first attach pays that.
 */
const WAYDROID_MAC = '00:16:3e:f9:d3:03';
/** The guestnet daemon's series and Waydroid's, as the report names them. */
export const DHCP_SYSTEMS = ['guestnet-daemon dhcp', 'waydroid dnsmasq'] as const;
type DhcpSystem = (typeof DHCP_SYSTEMS)[number];

/** The bridge, its MASQUERADE rule and dnsmasq, as waydroid-net.sh starts them; resolves to how to stop them. */
async function startWaydroidNet(sandbox: Sandbox): Promise<() => Promise<void>> {
  const masquerade = ['POSTROUTING', '-s', BRIDGE.subnet, '!', '-d', BRIDGE.subnet, '-j', 'MASQUERADE'];
  const setUp = [
    `ip link add dev ${BRIDGE.name} type bridge forward_delay 0`,
    `ip address add ${BRIDGE.address}/24 dev ${BRIDGE.name}`,
    `ip link set dev ${BRIDGE.name} up`,
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
  ];
  await must('waydroid bridge', await sandbox.host(['sh', '-ec', setUp.join('\n')]));
  await must('waydroid masquerade', await sandbox.host(['iptables', '-t', 'nat', '-A', ...masquerade]));
  const dir = sandbox.dir;
  const dnsmasq = sandbox.serveIn(sandbox.hostNs, [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--user=root',
    '--strict-order',
    '--bind-interfaces',
    `--pid-file=${join(dir, 'waydroid-dnsmasq.pid')}`,
    `--listen-address=${BRIDGE.address}`,
    `--dhcp-range=${BRIDGE.range}`,
    '--dhcp-lease-max=253',
    '--dhcp-no-override',
    '--except-interface=lo',
    `--interface=${BRIDGE.name}`,
    `--dhcp-leasefile=${join(dir, 'waydroid-dnsmasq.leases')}`,
    '--dhcp-authoritative',
    // Its DNS side reads no resolv.conf and asks no upstream: the times use no DNS.
    '--no-resolv',
  ]);
  dnsmasq.catch(() => {});
  // dnsmasq writes its pid file once its sockets are open.
  for (let i = 0; i < 200 && (await sandbox.host(['test', '-s', join(dir, 'waydroid-dnsmasq.pid')])).exitCode !== 0; i++)
    await new Promise((r) => setTimeout(r, 25));
  return async () => {
    dnsmasq.kill('SIGTERM');
    await dnsmasq.catch(() => {});
    await sandbox.host(['iptables', '-t', 'nat', '-D', ...masquerade]);
    await sandbox.host(['ip', 'link', 'del', 'dev', BRIDGE.name]);
  };
}

/** Until `guest` reaches the server; udhcpc's first DISCOVER may go unanswered, and its retry comes a second later. */
async function untilOnlineLong(guest: Guest): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await untilOnline(guest);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function stopClient(client: Client | undefined): Promise<void> {
  if (!client) return;
  client.process.kill('SIGKILL');
  await client.process.catch(() => {});
}

/** One guest of `system`, timed from the start of its attach until it is online; everything is undone afterwards. */
async function attachOnce(sandbox: Sandbox, system: DhcpSystem, n: number): Promise<number> {
  const guest = await sandbox.startGuest({ agent: false });
  const hostEnd = `wd${n}`;
  let client: Client | undefined;
  try {
    const started = performance.now();
    if (system === 'guestnet-daemon dhcp') await daemonAttach(sandbox, guest.pid, false, { guestConfig: 'dhcp', guestName: 'eth0' });
    else {
      const lines = [
        `link add ${hostEnd} type veth peer name eth0 address ${WAYDROID_MAC} netns /proc/${guest.pid}/ns/net`,
        `link set dev ${hostEnd} master ${BRIDGE.name} up`,
      ];
      await must('waydroid veth', await sandbox.host(['ip', '-batch', '-'], `${lines.join('\n')}\n`));
      await must('waydroid guest end', await guest.exec(['ip', 'link', 'set', 'dev', 'eth0', 'up']));
    }
    client = await startClient(sandbox, guest, 'udhcpc');
    await untilOnlineLong(guest);
    const took = ms(started);
    await online(sandbox, guest).catch((error: Error) => {
      throw new Error(`${system}: ${error.message}`);
    });
    return took;
  } finally {
    await stopClient(client);
    if (system === 'guestnet-daemon dhcp') await daemonDetach(sandbox, guest.pid);
    else await sandbox.host(['ip', 'link', 'del', 'dev', hostEnd]);
    await guest.kill();
  }
}

/**
 * Both systems `runs` times, interleaved run by run, each after one untimed
 * attach that pays its service's warm-up; needs no daemon running, and stops
 * its own and its dnsmasq.
 */
export async function benchDhcpGuests(sandbox: Sandbox, runs: number): Promise<AttachFigure[]> {
  const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
  let stopWaydroid: (() => Promise<void>) | undefined;
  try {
    stopWaydroid = await startWaydroidNet(sandbox);
    let n = 0;
    for (const system of DHCP_SYSTEMS) await attachOnce(sandbox, system, n++);
    const times = new Map(DHCP_SYSTEMS.map((s) => [s, [] as number[]]));
    for (let run = 0; run < runs; run++) {
      for (const system of DHCP_SYSTEMS) times.get(system)?.push(await attachOnce(sandbox, system, n++));
      process.stderr.write(`dhcp guests run ${run + 1}/${runs}\n`);
    }
    return [...times].map(([system, xs]) => ({ system, median_ms: median(xs), p95_ms: p95(xs), runs: xs.length }));
  } finally {
    await stopWaydroid?.();
    await daemon.stop();
  }
}
