import { AgentError, checkIfName, ConfigError, type ExitCodeName } from '@guestnet/protocol';
import { ID_PATTERN } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { resolveSettings } from '../settings.js';

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0'];

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
  command: 'ADD' | 'CHECK' | 'DEL';
  cniVersion: string;
  containerId: string;
  ifname: string;
  /** Absent on a DEL after the runtime already removed the netns. */
  netns: string | undefined;
  settings: HostSettings;
}

// Keys of a network config that the spec or runtimes define, and that we accept.
const STANDARD_KEYS = new Set(['cniVersion', 'name', 'type', 'args', 'ipMasq', 'dns', 'capabilities', 'runtimeConfig', 'prevResult']);
// Our settings a network config may set; the link names come from the runtime.
const GUESTNET_KEYS = new Set(['pool', 'gateway', 'uplink', 'mtu', 'guestToGuest', 'firewall', 'hostIfPrefix']);

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
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new CniError(6, 'the network configuration must be a JSON object');
  return config as Record<string, unknown>;
}

/** Everything a runtime hands a plugin, checked before any of it reaches a command line. */
export function parseRequest(command: 'ADD' | 'CHECK' | 'DEL', env: NodeJS.ProcessEnv, config: Record<string, unknown>): CniRequest {
  const cniVersion = config.cniVersion;
  if (typeof cniVersion !== 'string' || !SUPPORTED_VERSIONS.includes(cniVersion)) {
    throw new CniError(1, `cniVersion '${String(cniVersion)}' is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  const containerId = required(env, 'CNI_CONTAINERID');
  if (!ID_PATTERN.test(containerId) || containerId.length > 128) throw new CniError(4, 'CNI_CONTAINERID must be letters, digits, _ . or -');
  const ifname = required(env, 'CNI_IFNAME');
  if (!checkIfName(ifname).ok) throw new CniError(4, `CNI_IFNAME '${ifname.slice(0, 40)}' is not a valid interface name`);
  const netns = command === 'DEL' ? env.CNI_NETNS || undefined : required(env, 'CNI_NETNS');
  if (netns !== undefined && !/^\/\S+$/.test(netns)) throw new CniError(4, 'CNI_NETNS must be an absolute path without spaces');

  const ours: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (GUESTNET_KEYS.has(key)) ours[key] = value;
    else if (!STANDARD_KEYS.has(key)) throw new CniError(2, `unsupported field '${key}': ${JSON.stringify(value)?.slice(0, 60)}`);
  }
  if (config.ipMasq === false) throw new CniError(2, "unsupported field 'ipMasq': false (guestnet always masquerades)");
  const dns = config.dns as { nameservers?: unknown } | undefined;
  if (dns?.nameservers !== undefined) ours.dns = dns.nameservers;
  try {
    const stateDir = env.GUESTNET_STATE_DIR ? { stateDir: env.GUESTNET_STATE_DIR } : {};
    const settings = resolveSettings(ours, stateDir, 'network config');
    return { command, cniVersion, containerId, ifname, netns, settings: { ...settings, guestIf: ifname, guestName: ifname } };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof AgentError) throw new CniError(7, error.message);
    throw error;
  }
}
