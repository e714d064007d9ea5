import { checkIPv4 } from '@guestnet/protocol';

/** The IPv4 `nameserver` lines of a resolv.conf, in order. */
export function nameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((server): server is string => server !== undefined && checkIPv4(server).ok);
}
