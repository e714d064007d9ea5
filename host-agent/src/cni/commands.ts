import type { Runner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import { configureFromHost, missingInGuest } from '../guest-config/from-host.js';
import { hostEndMac } from '../model/mac.js';
import { statePaths } from '../model/paths.js';
import { describePortForward, samePortForward } from '../model/port-forward.js';
import { guestConfigModeOf } from '../model/guest-config.js';
import { type AttachmentRecord, type GuestIdentity, isRouted, type RoutedVethRecord } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { existingLinksWithAliases, observeHost } from '../observe.js';
import { ensurePrivateDir, removeEmptyDir } from '../state/dir.js';
import { withStateLock } from '../state/lock.js';
import { currentUplink } from '../plan/planner.js';
import { planAttach } from '../drivers/index.js';
import { type AttachRequest, type Attached, AttachmentService } from '../service/attachments.js';
import { netnsAt } from '../observe.js';
import { forwardInForce } from '../service/forwards.js';
import { readRecords } from '../state/store.js';
import { dropKeptPorts, keepPorts, keptPorts } from './kept-ports.js';
import { CniError, type CniRequest } from './request.js';

// The plugin is an adapter over the attachment service: ADD is an attach
// whose guest side the plugin does itself (a runtime has no guest agent),
// with the guest agent's own planner, entering the container's netns.

const idOf = (attachment: { containerId: string; ifname: string }) => `cni-${attachment.containerId}-${attachment.ifname}`;

async function identity(request: CniRequest): Promise<GuestIdentity> {
  const netnsPath = request.netns;
  const netns = await netnsAt(netnsPath);
  if (!netns) throw new CniError(3, `the container netns ${netnsPath} does not exist`, 'badPid');
  if (netns === (await netnsAt('/proc/self/ns/net'))) throw new CniError(3, `${netnsPath} is the host's own netns`, 'badPid');
  const cni = { containerId: request.containerId, ifname: request.ifname, network: request.network };
  return { id: idOf(request), netnsPath, netns, cni };
}

/** The daemon that runs an ADD: its attach, and what serves the container afterwards. */
export interface CniDaemon {
  service: AttachmentService;
  attach: (request: AttachRequest<void>) => Promise<Attached<void>>;
  serve: (record: AttachmentRecord) => Promise<void>;
}

/**
 * A re-ADD of an attachment that exists keeps its published ports unless the
 * request names others; an ADD that names none, into the netns a DEL kept
 * ports of, takes those back (kept-ports.ts).
 */
/**
 * `daemon`: the daemon that serves the state dir, when it runs the ADD: its
 * attach joins its group commit, and it serves the container from then on
 * (the DHCP server for guestConfig "dhcp", the guest socket for "agent").
 * Without one, only "host" can be had: nothing would answer the container.
 */
export async function add(request: CniRequest, runner: Runner, daemon?: CniDaemon): Promise<object> {
  const { guestConfig, stateDir } = request.settings;
  if (guestConfig !== 'host' && !daemon)
    throw new CniError(
      11,
      `guestConfig "${guestConfig}" needs host-agent serve serving ${stateDir}: none does, and nothing else would answer the container`,
    );
  const service = daemon?.service ?? new AttachmentService(stateDir, runner);
  const attach = daemon?.attach ?? ((r: AttachRequest<void>) => service.attach(r));
  const guest = await identity(request);
  const kept = request.forwards.length > 0 ? { found: false } : await keptPorts(stateDir, guest);
  const forwards = request.forwards.length > 0 ? request.forwards : kept.forwards;
  const extras = { ...(forwards ? { forwards } : {}), ...(request.guestMac === undefined ? {} : { guestMac: request.guestMac }) };
  // The container's own DHCP client or agent configures its end once it runs, after ADD: the daemon serves it from now on.
  const guestSide = guestConfig === 'host' ? configureFromHost : (record: AttachmentRecord) => daemon?.serve(record) ?? Promise.resolve();
  const { record, pairMade } = await attach({ guest, settings: request.settings, guestSide, extras });
  // A CNI network config names no link type: its guests are routed veths.
  if (!isRouted(record)) throw new Error(`a CNI attachment came out as ${record.type}`);
  if (kept.found) await withStateLock(stateDir, () => dropKeptPorts(stateDir, guest.id));
  // A pair this ADD made has the host end's MAC its record implies; one found (an ADD again, a leftover) may predate that.
  const hostMac = pairMade
    ? hostEndMac(record.guestMac)
    : (JSON.parse(await runner.read(['ip', '-j', 'link', 'show', 'dev', record.hostIf]))[0]?.address as string | undefined);
  return result(request.cniVersion, record, hostMac);
}

function result(cniVersion: string, record: RoutedVethRecord, hostMac: string | undefined): object {
  // 0.4.0 results name the IP version; 1.0.0 dropped the field.
  const ip = (version: string, address: string, prefixLength: number, gateway: string) => ({
    ...(cniVersion === '0.4.0' ? { version } : {}),
    address: `${address}/${prefixLength}`,
    gateway,
    interface: 1,
  });
  const v6 = record.ipv6;
  return {
    cniVersion,
    interfaces: [
      { name: record.hostIf, ...(hostMac ? { mac: hostMac } : {}) },
      { name: record.guestIf, mac: record.guestMac, sandbox: record.netnsPath },
    ],
    ips: [
      ip('4', record.guestAddress, record.prefixLength, record.hostAddress),
      ...(v6 ? [ip('6', v6.guestAddress, v6.prefixLength, v6.hostAddress)] : []),
    ],
    routes: [{ dst: '0.0.0.0/0', gw: record.hostAddress }, ...(v6 ? [{ dst: '::/0', gw: v6.hostAddress }] : [])],
    dns: { nameservers: record.dns },
  };
}

export async function check(request: CniRequest, runner: Runner): Promise<void> {
  const guest = await identity(request);
  const { settings } = request;
  const records = await readRecords(settings.stateDir);
  const firewall = await firewallFor(settings.firewall, records, runner);
  const observed = await observeHost(runner, settings.stateDir, firewall, records);
  const record = observed.records.find((r) => r.id === guest.id);
  if (!record || !isRouted(record)) throw new CniError(100, `container ${request.containerId} has no guestnet attachment`, 'badPid');
  if (record.netns !== guest.netns) throw new CniError(100, `${request.netns} is not the netns that was attached`, 'badPid');
  // Published ports first, by name: the runtime's, and those whose rules are gone (a firewall reload).
  const unpublished = request.forwards.filter((f) => !record.forwards.some((g) => samePortForward(f, g)));
  const notInForce = record.forwards.filter((f) => !forwardInForce(observed.firewall, record, f));
  const ports = [...unpublished, ...notInForce];
  if (ports.length > 0) throw new CniError(100, `published ports not in force: ${ports.map(describePortForward).join(', ')}`);
  const missing = planAttach(observed, record);
  if (missing.length > 0) throw new CniError(100, `the host side is incomplete: ${missing.map((op) => op.kind).join(', ')} missing`);
  // A container configured by its own DHCP client or agent is theirs to check.
  if (guestConfigModeOf(record) !== 'host') return;
  const inside = await missingInGuest(record).catch((error: Error) => {
    throw new CniError(100, error.message);
  });
  if (inside.length > 0) throw new CniError(100, `the container side is incomplete: ${inside.join(', ')} missing`);
}

/**
 * Works from the record ADD wrote, whatever the config says now: idempotent,
 * and fine after the netns or the whole attachment is gone. The last DEL
 * leaves no empty dir of ours behind.
 */
export async function del(attachment: { containerId: string; ifname: string }, service: AttachmentService): Promise<void> {
  const id = idOf(attachment);
  const { stateDir } = service;
  await service.inspect(async (records) => {
    const record = records.get(id);
    if (record) await keepPorts(stateDir, record);
  });
  await service.detach(id);
  await withStateLock(stateDir, () => tidy(stateDir));
}

/** Notes of netns that are gone go, and so do our dirs once empty. Under the state lock. */
async function tidy(stateDir: string): Promise<void> {
  await dropKeptPorts(stateDir);
  await removeEmptyDir(statePaths(stateDir).attachments);
}

/** CNI 1.1 GC: removes this network's attachments that the runtime no longer knows. */
export async function gc(network: string, valid: ReadonlySet<string>, service: AttachmentService): Promise<string[]> {
  const { stateDir } = service;
  const stale = (await service.inspect(async (records) => records.all())).filter(
    (r) => r.cni !== undefined && r.cni.network === network && !valid.has(r.id),
  );
  for (const record of stale) await service.detach(record.id);
  await withStateLock(stateDir, () => tidy(stateDir));
  return stale.map((r) => r.id);
}

/** CNI 1.1 STATUS: whether an ADD could succeed now; otherwise the spec's code 50 and why. */
export async function status(settings: HostSettings, runner: Runner): Promise<void> {
  try {
    await requireTools(BASE_TOOLS);
    await ensurePrivateDir(settings.stateDir, 'state dir');
    const records = await readRecords(settings.stateDir);
    const firewall = await firewallFor(settings.firewall, records, runner);
    await requireTools([firewall.tool]);
    const uplink = settings.uplink ?? currentUplink(await observeHost(runner, settings.stateDir, firewall, records, { links: [] }));
    if (uplink === undefined) throw new Error('no IPv4 default route to take the uplink from');
    if (!(await existingLinksWithAliases([uplink])).links.has(uplink)) throw new Error(`uplink ${uplink} does not exist`);
  } catch (error) {
    throw new CniError(50, `guestnet cannot add containers now: ${(error as Error).message}`);
  }
}
