import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callDaemon, resolveSettings } from '@guestnet/host-agent';
import { type Guest, type Sandbox, UPLINK } from '../fixtures/sandbox.js';
import { ms, must, untilOnline } from './measure.js';

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
  if (seen !== UPLINK.hostAddress) throw new Error(`the server saw '${seen}', not the uplink ${UPLINK.hostAddress}: ${fetched.stderr.trim()}`);
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

/** One CNI plugin call from Debian's containernetworking-plugins, in the sandbox host. */
export function cni(sandbox: Sandbox, command: 'ADD' | 'DEL', id: string, pid: number, config: Record<string, unknown>) {
  const env = [`CNI_COMMAND=${command}`, `CNI_CONTAINERID=${id}`, `CNI_NETNS=/proc/${pid}/ns/net`, 'CNI_IFNAME=eth0', 'CNI_PATH=/usr/lib/cni'];
  return sandbox.host(['env', ...env, `/usr/lib/cni/${String(config.type)}`], JSON.stringify({ cniVersion: '1.0.0', name: 'bench', ...config }));
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
export type System = 'seed-script' | 'cni-ptp' | 'guestnet-cli-standalone' | 'guestnet-daemon' | 'guestnet-cli';

/** One attach of a fresh guest until it is online, timed; everything is undone afterwards. */
export async function attachOnce(sandbox: Sandbox, system: System): Promise<number> {
  const agent = system.startsWith('guestnet');
  const guest = await sandbox.startGuest(agent ? { agentScript: GUEST_BUNDLE } : { agent: false });
  await new Promise((r) => setTimeout(r, agent ? 400 : 50));
  const started = performance.now();
  if (system === 'seed-script') await must('seed script', await sandbox.host(['sh', '-c', seedHost(guest.pid)]));
  else if (system === 'cni-ptp') await must('ptp ADD', await cni(sandbox, 'ADD', `g${guest.pid}`, guest.pid, ptpConfig(sandbox)));
  else if (system === 'guestnet-daemon') await daemonAttach(sandbox, guest.pid, true);
  else await must('attach', await sandbox.hostAgent(['attach', String(guest.pid)], HOST_BUNDLE));
  await untilOnline(guest);
  const took = ms(started);
  await online(sandbox, guest).catch((error: Error) => {
    throw new Error(`${system}: ${error.message}`);
  });
  if (system === 'seed-script') await sandbox.host(['sh', '-c', seedUndo]);
  else if (system === 'cni-ptp') await cni(sandbox, 'DEL', `g${guest.pid}`, guest.pid, ptpConfig(sandbox));
  else if (system === 'guestnet-daemon') await daemonDetach(sandbox, guest.pid);
  else await sandbox.hostAgent(['detach', String(guest.pid)], HOST_BUNDLE);
  await guest.kill();
  return took;
}
