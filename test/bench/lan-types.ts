import { addLan, LAN, seenOnLan } from '../fixtures/lan.js';
import { nicStandIn } from '../fixtures/nic-stand-in.js';
import type { Sandbox } from '../fixtures/sandbox.js';
import { median, ms, must, p95, untilOnline } from './measure.js';
import { agentWaiting, cni, daemonAttach, daemonDetach, GUEST_BUNDLE, HOST_BUNDLE } from './systems.js';

// The network types beside their CNI counterparts from Debian's
// containernetworking-plugins, on the LAN sandbox of the integration tests:
// bridged veth against `bridge`, macvlan against `macvlan`, phys against
// `host-device`. Each attach is timed until the guest reaches the LAN's
// server, which must then see the guest's own address. guestnet's phys
// hands over only hardware, so eth2 stands in for a NIC as in the tests
// (fixtures/nic-stand-in.ts): every `ip` the daemon runs passes through a
// shell script, and its `ip -d -j` reads through jq as well.

interface LanSystem {
  name: string;
  /** The guest's address on the LAN. */
  address: string;
  guestnet?: Record<string, unknown>;
  cni?: Record<string, unknown>;
}

const staticIpam = (address: string) => ({ type: 'static', addresses: [{ address: `${address}/${LAN.prefix}` }] });
const onLan = (address: string) => ({ pool: LAN.subnet, gateway: LAN.router, guestAddress: address });

export const LAN_SYSTEMS: LanSystem[] = [
  { name: 'guestnet bridged veth', address: '192.168.77.80', guestnet: { type: 'veth', link: 'br0' } },
  { name: 'cni bridge', address: '192.168.77.81', cni: { type: 'bridge', bridge: 'br0', isGateway: false, ipMasq: false } },
  { name: 'guestnet macvlan', address: '192.168.77.82', guestnet: { type: 'macvlan', link: 'eth1' } },
  { name: 'cni macvlan', address: '192.168.77.83', cni: { type: 'macvlan', master: 'eth1', mode: 'bridge' } },
  { name: 'guestnet phys', address: '192.168.77.84', guestnet: { type: 'phys', link: 'eth2' } },
  { name: 'cni host-device', address: '192.168.77.85', cni: { type: 'host-device', device: 'eth2' } },
];

async function attachOnce(sandbox: Sandbox, system: LanSystem): Promise<number> {
  const guest = await sandbox.startGuest(system.guestnet ? { agentScript: GUEST_BUNDLE } : { agent: false });
  await (system.guestnet ? agentWaiting(guest) : new Promise((r) => setTimeout(r, 50)));
  const config = system.cni && { ...system.cni, ipam: staticIpam(system.address) };
  const started = performance.now();
  if (config) await must(`${system.name} ADD`, await cni(sandbox, 'ADD', `l${guest.pid}`, guest.pid, config));
  else await daemonAttach(sandbox, guest.pid, true, { ...system.guestnet, ...onLan(system.address) });
  await untilOnline(guest, LAN.router, LAN.port);
  const took = ms(started);
  const seen = await seenOnLan((argv) => guest.exec(argv));
  if (seen !== system.address) throw new Error(`${system.name}: the LAN server saw '${seen}', not ${system.address}`);
  if (config) await must(`${system.name} DEL`, await cni(sandbox, 'DEL', `l${guest.pid}`, guest.pid, config));
  else await daemonDetach(sandbox, guest.pid);
  await guest.kill();
  return took;
}

/** Every LAN system `runs` times, interleaved run by run; needs no daemon running, and stops its own. */
export async function benchLanTypes(
  sandbox: Sandbox,
  runs: number,
): Promise<Array<{ system: string; median_ms: number; p95_ms: number; runs: number }>> {
  await addLan(sandbox);
  const nic = await nicStandIn(sandbox);
  const path = process.env.PATH;
  process.env.PATH = nic.path;
  const daemon = await sandbox.startDaemon([], HOST_BUNDLE).finally(() => {
    process.env.PATH = path;
  });
  try {
    // The daemon's first attach pays its warm-up, as in the routed series.
    await attachOnce(sandbox, LAN_SYSTEMS[0] as LanSystem);
    const times = new Map(LAN_SYSTEMS.map((s) => [s.name, [] as number[]]));
    for (let run = 0; run < runs; run++) {
      for (const system of LAN_SYSTEMS) times.get(system.name)?.push(await attachOnce(sandbox, system));
      process.stderr.write(`network types run ${run + 1}/${runs}\n`);
    }
    return [...times].map(([system, xs]) => ({ system, median_ms: median(xs), p95_ms: p95(xs), runs: xs.length }));
  } finally {
    await daemon.stop();
    await nic.remove();
  }
}
