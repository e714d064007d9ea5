import { attachHostSide, detachHostSide, netnsAt } from '../engine.js';
import type { Runner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import { withStateLock } from '../lock.js';
import { observeHost } from '../observe.js';
import { planAttach } from '../planner.js';
import { requireTools } from '../preflight.js';
import type { AttachmentRecord, GuestIdentity } from '../state.js';
import { CniError, type CniRequest } from './request.js';

const idOf = (request: CniRequest) => `cni-${request.containerId}-${request.ifname}`;

async function identity(request: CniRequest): Promise<GuestIdentity> {
  const netnsPath = request.netns as string;
  const netns = await netnsAt(netnsPath);
  if (!netns) throw new CniError(3, `the container netns ${netnsPath} does not exist`, 'badPid');
  if (netns === (await netnsAt('/proc/self/ns/net'))) throw new CniError(3, `${netnsPath} is the host's own netns`, 'badPid');
  return { id: idOf(request), netnsPath, netns, cni: { containerId: request.containerId, ifname: request.ifname } };
}

/** The container side: a runtime has no guest agent, so the plugin configures it from the host. */
function insideLines(record: AttachmentRecord): string[] {
  const dev = record.guestIf;
  return [
    'link set dev lo up',
    `address replace ${record.guestAddress}/${record.prefixLength} dev ${dev}`,
    `link set dev ${dev} up`,
    `route replace default via ${record.hostAddress} dev ${dev}`,
  ];
}

export async function add(request: CniRequest, runner: Runner): Promise<object> {
  const guest = await identity(request);
  const { settings } = request;
  return withStateLock(settings.stateDir, async () => {
    const firewall = await firewallFor(settings.firewall, settings.stateDir, runner);
    await requireTools([firewall.tool]);
    const host = await attachHostSide(guest, settings, runner, firewall);
    const { record } = host;
    try {
      await runner.perform({ kind: 'run', argv: ['nsenter', `--net=${record.netnsPath}`, 'ip', '-batch', '-'], input: `${insideLines(record).join('\n')}\n` });
      const hostMac = JSON.parse(await runner.read(['ip', '-j', 'link', 'show', 'dev', record.hostIf]))[0]?.address as string | undefined;
      return result(request.cniVersion, record, hostMac);
    } catch (error) {
      await host.rollBack(error);
      throw error;
    }
  });
}

function result(cniVersion: string, record: AttachmentRecord, hostMac: string | undefined): object {
  const ip = { address: `${record.guestAddress}/${record.prefixLength}`, gateway: record.hostAddress, interface: 1 };
  return {
    cniVersion,
    interfaces: [
      { name: record.hostIf, ...(hostMac ? { mac: hostMac } : {}) },
      { name: record.guestIf, mac: record.guestMac, sandbox: record.netnsPath },
    ],
    // 0.4.0 results name the IP version; 1.0.0 dropped the field.
    ips: [cniVersion === '0.4.0' ? { version: '4', ...ip } : ip],
    routes: [{ dst: '0.0.0.0/0', gw: record.hostAddress }],
    dns: { nameservers: record.dns },
  };
}

export async function check(request: CniRequest, runner: Runner): Promise<void> {
  const guest = await identity(request);
  const { settings } = request;
  const firewall = await firewallFor(settings.firewall, settings.stateDir, runner);
  const observed = await observeHost(runner, settings.stateDir, firewall);
  const record = observed.records.find((r) => r.id === guest.id);
  if (!record) throw new CniError(100, `container ${request.containerId} has no guestnet attachment`, 'badPid');
  if (record.netns !== guest.netns) throw new CniError(100, `${request.netns} is not the netns that was attached`, 'badPid');
  const missing = planAttach(observed, record);
  if (missing.length > 0) throw new CniError(100, `the host side is incomplete: ${missing.map((op) => op.kind).join(', ')} missing`);
  const inside = JSON.parse(await runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-4', '-j', 'address', 'show', 'dev', record.guestIf]));
  const addresses = (inside[0]?.addr_info ?? []) as Array<{ local: string; prefixlen: number }>;
  if (!addresses.some((a) => a.local === record.guestAddress && a.prefixlen === record.prefixLength)) {
    throw new CniError(100, `${record.guestIf} lacks ${record.guestAddress}/${record.prefixLength}`);
  }
  const routes = JSON.parse(await runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-4', '-j', 'route', 'show', 'default']));
  if (!routes.some((r: { gateway?: string }) => r.gateway === record.hostAddress)) throw new CniError(100, `no default route via ${record.hostAddress}`);
}

/** Idempotent, and fine after the netns or the whole attachment is gone. */
export async function del(request: CniRequest, runner: Runner): Promise<void> {
  const { stateDir } = request.settings;
  await withStateLock(stateDir, async () => {
    const firewall = await firewallFor('auto', stateDir, runner);
    await detachHostSide(idOf(request), stateDir, runner, firewall);
  });
}
