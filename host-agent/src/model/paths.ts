import { join } from 'node:path';

export const IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward';
export const IPV6_CONF_DIR = '/proc/sys/net/ipv6/conf';
export const IPV6_FORWARDING_PATH = `${IPV6_CONF_DIR}/all/forwarding`;

export interface StatePaths {
  attachments: string;
  ipForwardBefore: string;
  ipv6ForwardingBefore: string;
  pidFile: string;
  controlSocket: string;
  /** radvd's config and pid file, for dhcp guests' router advertisements (ra/radvd.ts). */
  radvdConfig: string;
  radvdPid: string;
}

export function statePaths(stateDir: string): StatePaths {
  return {
    attachments: join(stateDir, 'attachments'),
    ipForwardBefore: join(stateDir, 'ip_forward.before'),
    ipv6ForwardingBefore: join(stateDir, 'ipv6_forwarding.before'),
    pidFile: join(stateDir, 'serve.pid'),
    controlSocket: join(stateDir, 'control.sock'),
    radvdConfig: join(stateDir, 'radvd.conf'),
    radvdPid: join(stateDir, 'radvd.pid'),
  };
}

export function recordPath(stateDir: string, id: string): string {
  return join(statePaths(stateDir).attachments, `${id}.json`);
}

/** proxy_ndp of `dev` as found before guestnet turned it on for a routed guest. */
export function proxyNdpBeforePath(stateDir: string, dev: string): string {
  return join(stateDir, `proxy_ndp.${dev}.before`);
}
