import { HOST_RESOLV_CONF } from '../net/resolvers.js';
import { DnsForwarder, type ForwarderOptions } from './forwarder.js';
import { HostResolvers } from './upstreams.js';

/** The daemon's forwarder, asking the host's own resolvers: its resolv.conf's, or netd's on an Android host. */
export function hostDnsForwarder(netdSocket: string, options: Omit<ForwarderOptions, 'upstreams'>): DnsForwarder {
  const resolvers = new HostResolvers(HOST_RESOLV_CONF, netdSocket);
  return new DnsForwarder({ ...options, upstreams: () => resolvers.current() });
}
