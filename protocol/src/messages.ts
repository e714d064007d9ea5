// The messages of protocol v3 (README.md). Parsing and validation are in parse.ts.

/** v3: a configure names the guest's link only by its link id; v2's `link.name` was the one-time name, that is the token. */
export const PROTOCOL_VERSION = 3;

/** A guest's IPv6 on its link: present only when the host routes IPv6 for it, and only to a guest that announced CAPABILITY_IPV6. */
export interface Ipv6Config {
  address: string;
  prefixLength: number;
  gateway: string;
}

/** In hello.capabilities: this guest takes `link.ipv6`. An older agent, or a guest without IPv6, gets IPv4 only. */
export const CAPABILITY_IPV6 = 'ipv6';

/**
 * What the host tells the guest to make of its link. The link itself is the
 * one whose token has the session's link id: the guest finds it among its
 * own links, and the host never names it (a first name may be the token).
 */
export interface LinkConfig {
  /** The name the guest gives it. */
  rename: string;
  mtu: number;
  address: string;
  prefixLength: number;
  gateway: string;
  ipv6?: Ipv6Config;
  /**
   * The guest takes its address, gateway and DNS from the network's DHCP server;
   * address, prefixLength and gateway are then 0.0.0.0/1/0.0.0.0 and mean nothing.
   */
  dhcp?: true;
}

/** In hello.capabilities: this guest can take a DHCP lease on its link. */
export const CAPABILITY_DHCP = 'dhcp';

/** What a guest is to make of the link that carries `token`: the internal form of a configure. The token never goes on the wire. */
export interface GuestConfig {
  token: string;
  link: LinkConfig;
  dns: string[];
}

/** Guest -> host, first frame: the link ids of the guestnet links it can see, and its nonce. */
export interface Hello {
  type: 'hello';
  version: number;
  links: string[];
  nonce: string;
  capabilities: string[];
}

/** Host -> guest: which link it will configure, its nonce, and its proof that it knows that link's token. */
export interface Challenge {
  type: 'challenge';
  link: string;
  nonce: string;
  proof: string;
}

/** Guest -> host: the guest's proof that it knows the token. */
export interface Prove {
  type: 'prove';
  proof: string;
}

/** Host -> guest: the configuration for link `id`, signed. */
export interface Configure {
  type: 'configure';
  id: string;
  seq: number;
  link: LinkConfig;
  dns: string[];
  mac: string;
}

/** What the guest reports as in force after applying. */
export interface AppliedState {
  name: string;
  mtu: number;
  address: string;
  prefixLength: number;
  gateway: string;
  ipv6?: Ipv6Config;
  dns: string[];
}

/** Guest -> host: the outcome of the configure with the same `seq`, signed. */
export type Applied =
  | { type: 'applied'; id: string; seq: number; ok: true; changes: number; state: AppliedState; mac: string }
  | { type: 'applied'; id: string; seq: number; ok: false; error: { code: string; message: string }; mac: string };

/** Guest -> host on an idle session, so a dead host is noticed; the host answers `pong`. */
export interface Ping {
  type: 'ping';
  seq: number;
}

/** Host -> guest: the answer to `ping`, carrying its `seq`. */
export interface Pong {
  type: 'pong';
  seq: number;
}

/** Host -> guest: the attachment of link `id` is gone; stop keeping its configuration. Signed. */
export interface Release {
  type: 'release';
  id: string;
  seq: number;
  mac: string;
}

/** Either side, last frame before closing: why the connection ends. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export type GuestMessage = Hello | Prove | Applied | Ping | ErrorMessage;
export type HostMessage = Challenge | Configure | Pong | Release | ErrorMessage;
