import { isIPv6 } from 'node:net';

// The one place both agents check values that end up as arguments to `ip`,
// `nft` or `iptables`. Each validator returns the value or a reason, never
// throws, so callers decide which error class (usage, config, protocol) fits.

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(reason: string): Checked<T> => ({ ok: false, reason });

// IFNAMSIZ is 16 including the NUL. The kernel also refuses '/', ':' and
// whitespace; we go further and allow only what is safe in any tool's syntax.
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

export function checkIfName(value: unknown): Checked<string> {
  if (typeof value !== 'string') return bad('an interface name must be a string');
  if (!IFNAME.test(value) || value === '.' || value === '..') {
    return bad(`'${excerpt(value)}' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  return ok(value);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function checkIPv4(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !IPV4.test(value)) {
    return bad(`'${excerpt(String(value))}' is not an IPv4 address`);
  }
  return ok(value);
}

// Full and compressed forms, no zone index and no embedded IPv4: what `ip` prints and accepts everywhere.
const IPV6 = /^[0-9a-f:]{2,39}$/;

export function checkIPv6(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !IPV6.test(value) || !isIPv6(value)) return bad(`'${excerpt(String(value))}' is not an IPv6 address`);
  return ok(value);
}

/** A guest's IPv6 prefix: at least a /64, as SLAAC-sized subnets are, and room for a gateway and guests. */
export function checkPrefixLength6(value: unknown): Checked<number> {
  if (!Number.isInteger(value) || (value as number) < 64 || (value as number) > 120) {
    return bad(`'${excerpt(String(value))}' is not an IPv6 prefix length from 64 to 120`);
  }
  return ok(value as number);
}

export function checkPrefixLength(value: unknown): Checked<number> {
  // /31 and /32 leave no room for a gateway and a guest on one link.
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 30) {
    return bad(`'${excerpt(String(value))}' is not a prefix length from 1 to 30`);
  }
  return ok(value as number);
}

// 68 is the IPv4 minimum; 65535 is the largest a veth accepts.
export function checkMtu(value: unknown): Checked<number> {
  if (!Number.isInteger(value) || (value as number) < 68 || (value as number) > 65535) {
    return bad(`'${excerpt(String(value))}' is not an MTU from 68 to 65535`);
  }
  return ok(value as number);
}

// Linux pid_max is at most 2^22.
export function checkPid(value: unknown): Checked<number> {
  const pid = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : value;
  if (!Number.isInteger(pid) || (pid as number) < 1 || (pid as number) > 4194304) {
    return bad(`'${excerpt(String(value))}' is not a process id`);
  }
  return ok(pid as number);
}

/** The per-attach secret the host writes into the guest link's alias, or into its first name. */
export const TOKEN_PREFIX = 'guestnet:';
const ONE_TIME_NAME_TEXT = 'gn[A-Za-z0-9]{13}';
/** The first name of a guest end that carries its token: `gn` and 13 random letters and digits. */
export const ONE_TIME_NAME = new RegExp(`^${ONE_TIME_NAME_TEXT}$`);
const TOKEN = new RegExp(`^${TOKEN_PREFIX}(?:[0-9a-f]{32}|${ONE_TIME_NAME_TEXT})$`);

export function checkToken(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !TOKEN.test(value)) return bad('not a guestnet link token');
  return ok(value);
}

/**
 * The token a guest link carries: its alias, or else its one-time first name,
 * which the kernel takes at creation where it takes no alias (README
 * "Identity and authentication").
 */
export function tokenOfLink(link: { name: string; alias?: string | undefined }): string | undefined {
  if (checkToken(link.alias).ok) return link.alias;
  return link.alias === undefined && ONE_TIME_NAME.test(link.name) ? `${TOKEN_PREFIX}${link.name}` : undefined;
}

/** The guest end's one-time first name that `token` is made of; undefined for a token of hex digits. */
export function oneTimeNameOf(token: string): string | undefined {
  const name = token.slice(TOKEN_PREFIX.length);
  return token.startsWith(TOKEN_PREFIX) && ONE_TIME_NAME.test(name) ? name : undefined;
}

export function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The network address of `address/prefix`, e.g. 172.17.3.3/16 -> 172.17.0.0. */
export function networkOf(address: string, prefix: number): string {
  const size = 2 ** (32 - prefix);
  return intToIPv4(Math.floor(ipv4ToInt(address) / size) * size);
}

/** Untrusted text shown in an error or log line: short, printable. */
export function excerpt(text: string, max = 40): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}...` : printable;
}
