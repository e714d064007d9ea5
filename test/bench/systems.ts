import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { callDaemon, resolveSettings } from '@guestnet/host-agent';
import { type Guest, type Sandbox, UPLINK } from '../fixtures/sandbox.js';
import { ms, must, processesDuring, processesRun, untilOnline } from './measure.js';

// The routed systems the bench compares, each attaching a fresh guest until
// it is online, and undoing it afterwards.

// What deploy/ ships and runs: the bundles, built fresh at the start.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HOST_BUNDLE = join(ROOT, 'deploy/dist/host-agent.cjs');
export const GUEST_BUNDLE = join(ROOT, 'deploy/dist/guest-agent.cjs');

/** And the server saw the uplink's address: NAT, not just a route. */
export async function online(sandbox: Sandbox, guest: Guest): Promise<void> {
  const fetched = await sandbox.fetchFromGuest(guest);
  const seen = fetched.stdout.trim();
  if (seen !== UPLINK.hostAddress)
    throw new Error(`the server saw '${seen}', not the uplink ${UPLINK.hostAddress}: ${fetched.stderr.trim()}`);
}

// The design's own sequence (seeds/001), one process per command as the original does.
const seedHost = (pid: number) => `set -e
ip link add name vm_wlan type veth peer name vm_wlan0
ip addr add 172.17.3.2/16 dev vm_wlan
ip link set vm_wlan up
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE
iptables -t filter -A FORWARD -i wlan0 -o vm_wlan -j ACCEPT
iptables -t filter -A FORWARD -o wlan0 -i vm_wlan -j ACCEPT
ip link set vm_wlan0 netns ${pid}
nsenter -t ${pid} -n ip link set vm_wlan0 name wlan0
nsenter -t ${pid} -n ip addr add 172.17.3.3/16 dev wlan0
nsenter -t ${pid} -n ip link set wlan0 up
nsenter -t ${pid} -n ip route add default via 172.17.3.2
`;
const seedUndo = `ip link del vm_wlan 2>/dev/null || true
iptables -t nat -D POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE
iptables -t filter -D FORWARD -i wlan0 -o vm_wlan -j ACCEPT
iptables -t filter -D FORWARD -o wlan0 -i vm_wlan -j ACCEPT
echo 0 > /proc/sys/net/ipv4/ip_forward
`;

// Both floor scripts set up the same firewall, in one nft transaction.
const FLOOR_FIREWALL = `nft -f - <<END
table ip gnfloor {
  chain out { type nat hook postrouting priority 100; ip saddr 10.198.0.2 oifname "wlan0" masquerade; }
  chain through { type filter hook forward priority 0; iifname "fl0" accept; oifname "fl0" ct state established,related accept; }
}
END
`;
// guestnet's attach path without guestnet, as it was before it took three
// processes: the processes a warm daemon and its guest agent started, in
// order, from one shell. No node, no socket, no protocol.
const floorAttach = (pid: number) => `set -e
echo 1 > /proc/sys/net/ipv4/ip_forward
nsenter --net=/proc/${pid}/ns/net ip -batch - <<END
link add eth9 type veth peer name fl0 netns /proc/$$/ns/net
link set dev eth9 alias guestnet:floor
END
ip -batch - <<END
address add 10.198.0.1/32 peer 10.198.0.2/32 dev fl0
link set dev fl0 up
END
${FLOOR_FIREWALL}nsenter --net=/proc/${pid}/ns/net ip -j -batch - > /dev/null <<END
link show
address show
route show
END
nsenter --net=/proc/${pid}/ns/net ip -batch - <<END
link set dev eth9 name wlan0
address add 10.198.0.2/16 dev wlan0
link set dev wlan0 up
route add default via 10.198.0.1 dev wlan0 onlink
END
`;
const floorUndo = 'ip link del fl0 2>/dev/null; nft delete table ip gnfloor 2>/dev/null; true';

// The same attach in the three processes guestnet runs now: one ip from the
// host makes the pair with its peer created in the guest's netns, under a
// one-time name, and sets up the host end, then nft, then one ip -batch in
// the guest. What any design that runs these tools pays at least.
const floor3Attach = (pid: number) => `set -e
echo 1 > /proc/sys/net/ipv4/ip_forward
ip -batch - <<END
link add fl0 type veth peer name gnFloorToken01 netns /proc/${pid}/ns/net
address add 10.198.0.1/32 peer 10.198.0.2/32 dev fl0
link set dev fl0 up
END
${FLOOR_FIREWALL}nsenter --net=/proc/${pid}/ns/net ip -batch - <<END
link set dev gnFloorToken01 name wlan0 alias guestnet:floor
address add 10.198.0.2/16 dev wlan0
link set dev wlan0 up
route add default via 10.198.0.1 dev wlan0 onlink
END
`;

/** One CNI plugin call from Debian's containernetworking-plugins, in the sandbox host; `prefix` wraps it (strace). */
export function cni(
  sandbox: Sandbox,
  command: 'ADD' | 'DEL',
  id: string,
  pid: number,
  config: Record<string, unknown>,
  prefix: string[] = [],
) {
  const env = [
    `CNI_COMMAND=${command}`,
    `CNI_CONTAINERID=${id}`,
    `CNI_NETNS=/proc/${pid}/ns/net`,
    'CNI_IFNAME=eth0',
    'CNI_PATH=/usr/lib/cni',
  ];
  return sandbox.host(
    [...prefix, 'env', ...env, `/usr/lib/cni/${String(config.type)}`],
    JSON.stringify({ cniVersion: '1.0.0', name: 'bench', ...config }),
  );
}

export const ptpConfig = (sandbox: Sandbox) => ({
  type: 'ptp',
  ipMasq: true,
  ipam: { type: 'host-local', subnet: '10.199.0.0/16', dataDir: join(sandbox.dir, 'cni'), routes: [{ dst: '0.0.0.0/0' }] },
});

/** An attach through the running daemon's control socket; `flags` as the CLI's (type, link, pool, ...). */
export async function daemonAttach(sandbox: Sandbox, pid: number, wait: boolean, flags: Record<string, unknown> = {}): Promise<void> {
  const settings = resolveSettings({}, { stateDir: sandbox.stateDir, socket: sandbox.socket, dns: '192.0.2.53', ...flags }, 'bench');
  const reply = await callDaemon(sandbox.stateDir, { type: 'attach', pid, settings: { ...settings }, wait }, 60_000);
  if (!reply.served) throw new Error('no daemon');
}

export async function daemonDetach(sandbox: Sandbox, pid: number): Promise<void> {
  await callDaemon(sandbox.stateDir, { type: 'detach', pid }, 60_000);
}

/**
 * guestnet-cli is `host-agent attach` as the launcher runs it, beside a
 * running daemon (the deployed shape: the CLI hands the attach to it);
 * guestnet-cli-standalone is the same command with no daemon, doing it all.
 */
export type System =
  | 'seed-script'
  | 'floor-script'
  | 'floor-3-script'
  | 'cni-ptp'
  | 'guestnet-cli-standalone'
  | 'guestnet-daemon'
  | 'guestnet-cli';

/**
 * Until the guest's agent says it waits for its link, and 100 ms more: an
 * attach then meets an agent that is booted, as a booted guest's is. On a
 * busy machine its start can take longer than any fixed pause, and an agent
 * not yet listening for its link's event finds the link only at its next look.
 */
export async function agentWaiting(guest: Guest): Promise<void> {
  const statusFile = guest.files[guest.files.indexOf('--status-file') + 1] as string;
  const waiting = async () => (await readFile(statusFile, 'utf8').catch(() => '')).includes('"waiting for our link"');
  for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 100));
}

/** One attach of a fresh guest until it is online, timed; everything is undone afterwards. */
export async function attachOnce(sandbox: Sandbox, system: System): Promise<number> {
  const agent = system.startsWith('guestnet');
  const guest = await sandbox.startGuest(agent ? { agentScript: GUEST_BUNDLE } : { agent: false });
  await (agent ? agentWaiting(guest) : new Promise((r) => setTimeout(r, 50)));
  const started = performance.now();
  if (system === 'seed-script') await must('seed script', await sandbox.host(['sh', '-c', seedHost(guest.pid)]));
  else if (system === 'floor-script') await must('floor script', await sandbox.host(['sh', '-c', floorAttach(guest.pid)]));
  else if (system === 'floor-3-script') await must('floor-3 script', await sandbox.host(['sh', '-c', floor3Attach(guest.pid)]));
  else if (system === 'cni-ptp') await must('ptp ADD', await cni(sandbox, 'ADD', `g${guest.pid}`, guest.pid, ptpConfig(sandbox)));
  else if (system === 'guestnet-daemon') await daemonAttach(sandbox, guest.pid, true);
  else await must('attach', await sandbox.hostAgent(['attach', String(guest.pid)], HOST_BUNDLE));
  await untilOnline(guest);
  const took = ms(started);
  await online(sandbox, guest).catch((error: Error) => {
    throw new Error(`${system}: ${error.message}`);
  });
  if (system === 'seed-script') await sandbox.host(['sh', '-c', seedUndo]);
  else if (system === 'floor-script' || system === 'floor-3-script') await sandbox.host(['sh', '-c', floorUndo]);
  else if (system === 'cni-ptp') await cni(sandbox, 'DEL', `g${guest.pid}`, guest.pid, ptpConfig(sandbox));
  else if (system === 'guestnet-daemon') await daemonDetach(sandbox, guest.pid);
  else await sandbox.hostAgent(['detach', String(guest.pid)], HOST_BUNDLE);
  await guest.kill();
  return took;
}

/**
 * Until an agent's children (its monitor, and the look it keeps spawned
 * ahead) have stayed the same for a second: the quick looks it makes after
 * it starts, each spawning the next look ahead, are over, and the next
 * process it starts is the attach's, not one of theirs.
 */
async function agentQuiet(agent: number): Promise<void> {
  let last: string | undefined;
  let since = performance.now();
  for (let i = 0; i < 200; i++) {
    const children = await readFile(`/proc/${agent}/task/${agent}/children`, 'utf8').catch(() => '');
    if (children !== last) [last, since] = [children, performance.now()];
    else if (performance.now() - since >= 1000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The processes one attach starts until the guest is online: a warm daemon's
 * and its guest agent's, with another guest attached (the firewall's base in
 * place), against ptp's (with its IPAM plugin) in the same state.
 */
export async function countProcesses(sandbox: Sandbox): Promise<Array<{ system: string; processes: number; commands: string[] }>> {
  const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
  const withAgent = async () => {
    const guest = await sandbox.startGuest({ agentScript: GUEST_BUNDLE });
    await agentWaiting(guest);
    return guest;
  };
  try {
    const other = await withAgent();
    await daemonAttach(sandbox, other.pid, true);
    const guest = await withAgent();
    const agent = Number((await execa('pgrep', ['-P', String(guest.pid)])).stdout.split('\n')[0]);
    await agentQuiet(agent);
    const guestnet = await processesDuring([daemon.pid, agent], () => daemonAttach(sandbox, guest.pid, true));
    for (const g of [guest, other]) {
      await daemonDetach(sandbox, g.pid);
      await g.kill();
    }

    const [bare, otherBare] = [await sandbox.startGuest({ agent: false }), await sandbox.startGuest({ agent: false })];
    await must('ptp ADD', await cni(sandbox, 'ADD', `p${otherBare.pid}`, otherBare.pid, ptpConfig(sandbox)));
    const trace = join(sandbox.dir, 'ptp.trace');
    await must(
      'ptp ADD',
      await cni(sandbox, 'ADD', `p${bare.pid}`, bare.pid, ptpConfig(sandbox), [
        'strace',
        '-f',
        '-e',
        'trace=execve,exit_group',
        '-o',
        trace,
      ]),
    );
    const ptp = processesRun(await readFile(trace, 'utf8'));
    for (const b of [bare, otherBare]) {
      await cni(sandbox, 'DEL', `p${b.pid}`, b.pid, ptpConfig(sandbox));
      await b.kill();
    }
    return [
      { system: 'guestnet-daemon and its guest agent', processes: guestnet.length, commands: guestnet },
      { system: 'cni-ptp', processes: ptp.length, commands: ptp },
    ];
  } finally {
    await daemon.stop();
  }
}
