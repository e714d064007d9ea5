import { AgentError, checkIfName, checkIPv4, ConfigError, type ExitCodeName } from '@guestnet/protocol';
import { isPortForward, type PortForward } from '../model/port-forward.js';
import { ID_PATTERN } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { resolveSettings } from '../settings.js';

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'];

/** A failure with the CNI spec's error code (1-99 are the spec's, 100 and up ours). */
export class CniError extends AgentError {
  constructor(
    readonly cniCode: number,
    message: string,
    code: ExitCodeName = 'config',
  ) {
    super(code, message);
  }
}

export interface CniRequest {
  command: 'ADD' | 'CHECK';
  cniVersion: string;
  /** The network's name: GC removes only this network's attachments. */
  network: string | undefined;
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
const GUESTNET_KEYS = new Set(['pool', 'gateway', 'uplink', 'mtu', 'guestToGuest', 'firewall', 'hostIfPrefix', 'ipv6', 'pool6']);

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

function supportedVersion(config: Record<string, unknown>): string {
  const cniVersion = config.cniVersion;
  if (typeof cniVersion !== 'string' || !SUPPORTED_VERSIONS.includes(cniVersion)) {
    throw new CniError(1, `cniVersion '${String(cniVersion)}' is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  return cniVersion;
}

/** The attachment a runtime names: its container and interface, which key the record. */
export function attachmentOf(env: NodeJS.ProcessEnv): { containerId: string; ifname: string } {
  const containerId = required(env, 'CNI_CONTAINERID');
  if (!ID_PATTERN.test(containerId) || containerId.length > 128) throw new CniError(4, 'CNI_CONTAINERID must be letters, digits, _ . or -');
  const ifname = required(env, 'CNI_IFNAME');
  if (!checkIfName(ifname).ok) throw new CniError(4, `CNI_IFNAME '${ifname.slice(0, 40)}' is not a valid interface name`);
  return { containerId, ifname };
}

/** The state dir a runtime's call works in: the daemon's when GUESTNET_STATE_DIR names it. */
export function stateDirOf(env: NodeJS.ProcessEnv): string {
  return resolveSettings({}, env.GUESTNET_STATE_DIR ? { stateDir: env.GUESTNET_STATE_DIR } : {}, 'environment').stateDir;
}

/** Everything a runtime hands a plugin for ADD or CHECK, checked before any of it reaches a command line. */
export function parseRequest(command: 'ADD' | 'CHECK', env: NodeJS.ProcessEnv, config: Record<string, unknown>): CniRequest {
  const cniVersion = supportedVersion(config);
  const { containerId, ifname } = attachmentOf(env);
  const netns = required(env, 'CNI_NETNS');
  if (!/^\/\S+$/.test(netns)) throw new CniError(4, 'CNI_NETNS must be an absolute path without spaces');
  const requested = requestedOf(config, env);
  const settings = parseSettings(config, env, requested.ip === undefined ? {} : { guestAddress: requested.ip });
  const network = typeof config.name === 'string' ? config.name : undefined;
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
    throw new CniError(7, `requested ips ${JSON.stringify(ips).slice(0, 80)}: guestnet gives each container one IPv4 address`);
  const macValue = runtime.mac ?? argsCni.mac ?? args.get('MAC');
  const mac = macValue === undefined ? undefined : String(macValue).toLowerCase();
  if (mac !== undefined && !UNICAST_MAC.test(mac))
    throw new CniError(7, `requested mac '${String(macValue).slice(0, 40)}' is not a unicast MAC address`);
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
      `portMappings entry ${JSON.stringify(entry)?.slice(0, 80)} is not {hostPort, containerPort, protocol tcp|udp, hostIP IPv4}`,
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
    else if (!STANDARD_KEYS.has(key)) throw new CniError(2, `unsupported field '${key}': ${JSON.stringify(value)?.slice(0, 60)}`);
  }
  if (config.ipMasq === false) throw new CniError(2, "unsupported field 'ipMasq': false (guestnet always masquerades)");
  const dns = config.dns as { nameservers?: unknown } | undefined;
  if (dns?.nameservers !== undefined) ours.dns = dns.nameservers;
  try {
    return resolveSettings(
      ours,
      { ...requested, ...(env.GUESTNET_STATE_DIR ? { stateDir: env.GUESTNET_STATE_DIR } : {}) },
      'network config',
    );
  } catch (error) {
    if (error instanceof ConfigError || error instanceof AgentError) throw new CniError(7, error.message);
    throw error;
  }
}

/** CNI 1.1 GC: the attachments the runtime still knows, from `cni.dev/valid-attachments`. */
export function validAttachments(config: Record<string, unknown>): Set<string> {
  supportedVersion(config);
  const listed = config['cni.dev/valid-attachments'];
  if (!Array.isArray(listed)) throw new CniError(7, "GC needs 'cni.dev/valid-attachments', a list of {containerID, ifname}");
  return new Set(
    listed.flatMap((entry: unknown) => {
      const { containerID, ifname } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      return typeof containerID === 'string' && typeof ifname === 'string' ? [`cni-${containerID}-${ifname}`] : [];
    }),
  );
}
