import { AgentError, checkIfName, checkIPv4, ConfigError } from '@guestnet/protocol';
import { isPortForward, type PortForward } from '../model/port-forward.js';
import type { HostSettings } from '../model/settings.js';
import { resolveSettings } from '../settings.js';
import { CniError } from './error.js';

export { CniError };

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'];

export interface CniRequest {
  command: 'ADD' | 'CHECK';
  cniVersion: string;
  /** The network's name: GC removes only this network's attachments. */
  network: string;
  containerId: string;
  ifname: string;
  netns: string;
  settings: HostSettings;
  /** From the portMappings capability: published ports. */
  forwards: PortForward[];
  /** From the mac capability or the MAC arg. */
  guestMac: string | undefined;
}

// Keys of a network config that the spec or runtimes define, and that we accept.
const STANDARD_KEYS = new Set([
  'cniVersion',
  'name',
  'type',
  'args',
  'ipMasq',
  'dns',
  'capabilities',
  'runtimeConfig',
  'prevResult',
  'cni.dev/valid-attachments',
]);
// Our settings a network config may set; the link names come from the runtime.
const GUESTNET_KEYS = new Set([
  'pool',
  'gateway',
  'uplink',
  'mtu',
  'guestToGuest',
  'firewall',
  'hostIfPrefix',
  'ipv6',
  'pool6',
  'guestConfig',
]);

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new CniError(4, `${name} is not set`);
  return value;
}

export function parseConfig(text: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new CniError(6, 'the network configuration on stdin is not valid JSON');
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new CniError(6, 'the network configuration must be a JSON object');
  return config as Record<string, unknown>;
}

/** A value from a request as a message may show it: short, and anything but printable ASCII as \uXXXX. */
const shown = (value: unknown, length = 40): string =>
  String(value)
    .slice(0, length)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

// The spec's rule for container ids and network names: a letter or digit,
// then letters, digits, '_', '.' or '-'. Both become parts of file names.
const CNI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const NAME_RULE = 'must be a letter or digit followed by letters, digits, _ . or - (at most 128 characters)';

/** The newest version guestnet speaks: what it answers in when a request names none it can read. */
export const LATEST_VERSION = '1.1.0';
// GC and STATUS came with CNI 1.1.0: a runtime sends them only with configs of that version.
const NEWEST_COMMANDS = new Set(['GC', 'STATUS']);

function supportedVersion(config: Record<string, unknown>, command?: string): string {
  const cniVersion = config.cniVersion;
  if (typeof cniVersion !== 'string' || !SUPPORTED_VERSIONS.includes(cniVersion)) {
    throw new CniError(1, `cniVersion '${shown(cniVersion)}' is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (command !== undefined && NEWEST_COMMANDS.has(command) && cniVersion !== LATEST_VERSION)
    throw new CniError(1, `${command} is a CNI ${LATEST_VERSION} command; this config is cniVersion ${cniVersion}`);
  return cniVersion;
}

/**
 * The version a reply is in: the request's, errors too, when it reads as one
 * (an error has one form in every version); otherwise the newest.
 */
export function replyVersion(config: unknown): string {
  const cniVersion = (config as { cniVersion?: unknown } | null)?.cniVersion;
  return typeof cniVersion === 'string' && /^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(cniVersion) ? cniVersion : LATEST_VERSION;
}

/** The network config's name, which its attachments are recorded under: the spec's characters only. */
export function networkOf(config: Record<string, unknown>): string {
  const { name } = config;
  if (typeof name !== 'string') throw new CniError(7, "the network config has no 'name'");
  if (!CNI_NAME.test(name)) throw new CniError(7, `network name '${shown(name)}' ${NAME_RULE}`);
  return name;
}

/** The attachment a runtime names: its container and interface, which key the record. */
export function attachmentOf(env: NodeJS.ProcessEnv): { containerId: string; ifname: string } {
  const containerId = required(env, 'CNI_CONTAINERID');
  if (!CNI_NAME.test(containerId)) throw new CniError(4, `CNI_CONTAINERID '${shown(containerId)}' ${NAME_RULE}`);
  const ifname = required(env, 'CNI_IFNAME');
  if (!checkIfName(ifname).ok) throw new CniError(4, `CNI_IFNAME '${shown(ifname)}' is not a valid interface name`);
  return { containerId, ifname };
}

/** The state dir a runtime's call works in: the daemon's when GUESTNET_STATE_DIR names it. */
export function stateDirOf(env: NodeJS.ProcessEnv): string {
  return resolveSettings({}, env.GUESTNET_STATE_DIR ? { stateDir: env.GUESTNET_STATE_DIR } : {}, 'environment').stateDir;
}

/** Everything a runtime hands a plugin for ADD or CHECK, checked before any of it reaches a command line. */
export function parseRequest(command: 'ADD' | 'CHECK', env: NodeJS.ProcessEnv, config: Record<string, unknown>): CniRequest {
  const cniVersion = supportedVersion(config);
  const network = networkOf(config);
  const { containerId, ifname } = attachmentOf(env);
  const netns = required(env, 'CNI_NETNS');
  if (!/^\/\S+$/.test(netns)) throw new CniError(4, 'CNI_NETNS must be an absolute path without spaces');
  const requested = requestedOf(config, env);
  const settings = parseSettings(config, env, requested.ip === undefined ? {} : { guestAddress: requested.ip });
  const link = { ...settings, guestIf: ifname, guestName: ifname };
  return {
    command,
    cniVersion,
    network,
    containerId,
    ifname,
    netns,
    settings: link,
    forwards: requested.forwards,
    guestMac: requested.mac,
  };
}

/** `K=V;K=V` of CNI_ARGS. */
function cniArgs(env: NodeJS.ProcessEnv): Map<string, string> {
  return new Map((env.CNI_ARGS ?? '').split(';').flatMap((pair) => (pair.includes('=') ? [pair.split('=', 2) as [string, string]] : [])));
}

const UNICAST_MAC = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;

/**
 * What the runtime asks for this container: an address (the `ips` capability,
 * `args.cni.ips`, or the IP arg), a MAC (`mac`, `args.cni.mac`, or MAC), and
 * published ports (`portMappings`). Each is checked here, before anything changes.
 */
function requestedOf(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { ip: string | undefined; mac: string | undefined; forwards: PortForward[] } {
  const runtime = (isObject(config.runtimeConfig) ? config.runtimeConfig : {}) as Record<string, unknown>;
  const argsCni = (isObject(config.args) && isObject(config.args.cni) ? config.args.cni : {}) as Record<string, unknown>;
  const args = cniArgs(env);
  const ips = [...asList(runtime.ips), ...asList(argsCni.ips), ...(args.has('IP') ? [args.get('IP')] : [])];
  const ip = ips.map((value) => String(value).split('/')[0] ?? '').find((value) => checkIPv4(value).ok);
  if (ips.length > 0 && ip === undefined)
    throw new CniError(7, `requested ips ${shown(JSON.stringify(ips), 80)}: guestnet gives each container one IPv4 address`);
  const macValue = runtime.mac ?? argsCni.mac ?? args.get('MAC');
  const mac = macValue === undefined ? undefined : String(macValue).toLowerCase();
  if (mac !== undefined && !UNICAST_MAC.test(mac)) throw new CniError(7, `requested mac '${shown(macValue)}' is not a unicast MAC address`);
  return { ip, mac, forwards: asList(runtime.portMappings).map(portMappingOf) };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** A portMappings entry as guestnet's own port forward: on one host address when hostIP names one. */
function portMappingOf(entry: unknown): PortForward {
  const { hostPort, containerPort, protocol = 'tcp', hostIP = '' } = (isObject(entry) ? entry : {}) as Record<string, unknown>;
  const everywhere = ['', '0.0.0.0', '::'].includes(String(hostIP));
  const forward = {
    protocol: String(protocol).toLowerCase(),
    hostPort,
    guestPort: containerPort,
    ...(everywhere ? {} : { hostAddress: String(hostIP) }),
  };
  if (!isPortForward(forward))
    throw new CniError(
      7,
      `portMappings entry ${shown(JSON.stringify(entry), 80)} is not {hostPort, containerPort, protocol tcp|udp, hostIP IPv4}`,
    );
  return forward;
}

/** The network config's settings: unknown fields refused, ours checked as host-agent checks them. */
export function parseSettings(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  requested: { guestAddress?: string } = {},
): HostSettings {
  supportedVersion(config);
  const ours: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (GUESTNET_KEYS.has(key)) ours[key] = value;
    else if (!STANDARD_KEYS.has(key)) throw new CniError(2, `unsupported field '${shown(key)}': ${shown(JSON.stringify(value), 60)}`);
  }
  if (config.ipMasq === false) throw new CniError(2, "unsupported field 'ipMasq': false (guestnet always masquerades)");
  const dns = config.dns as { nameservers?: unknown } | undefined;
  if (dns?.nameservers !== undefined) ours.dns = dns.nameservers;
  try {
    const settings = resolveSettings(
      ours,
      { ...requested, ...(env.GUESTNET_STATE_DIR ? { stateDir: env.GUESTNET_STATE_DIR } : {}) },
      'network config',
    );
    // The plugin configures a container from the host unless its config names another mode.
    return ours.guestConfig === undefined ? { ...settings, guestConfig: 'host' } : settings;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof AgentError) throw new CniError(7, error.message);
    throw error;
  }
}

/** CNI 1.1 STATUS: the settings an ADD of this config would work with. */
export function parseStatus(config: Record<string, unknown>, env: NodeJS.ProcessEnv): HostSettings {
  supportedVersion(config, 'STATUS');
  networkOf(config);
  return parseSettings(config, env);
}

/** CNI 1.1 GC: the attachments the runtime still knows, from `cni.dev/valid-attachments`. */
export function validAttachments(config: Record<string, unknown>): Set<string> {
  supportedVersion(config, 'GC');
  networkOf(config);
  const listed = config['cni.dev/valid-attachments'];
  if (!Array.isArray(listed)) throw new CniError(7, "GC needs 'cni.dev/valid-attachments', a list of {containerID, ifname}");
  return new Set(
    listed.flatMap((entry: unknown) => {
      const { containerID, ifname } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      return typeof containerID === 'string' && typeof ifname === 'string' ? [`cni-${containerID}-${ifname}`] : [];
    }),
  );
}
