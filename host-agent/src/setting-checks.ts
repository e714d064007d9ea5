import { bigIntToIpv6, type Checked, checkIfName, checkIPv4, checkIPv6, networkOf } from '@guestnet/protocol';
import { IPV6_CHOICES, type Ipv6Choice, parsePool6 } from './model/ipv6.js';
import { FIREWALLS, type FirewallChoice, type Platform, PLATFORMS } from './model/names.js';

// The checks behind the settings table (settings.ts): each takes a flag's
// string or the config file's JSON value and says what is wrong with it.

export const fromString = (check: (v: unknown) => Checked<unknown>) => (value: unknown) =>
  check(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);

export function checkPath(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 100 || value.includes('\0')) {
    return { ok: false, reason: 'must be an absolute path of at most 100 characters' };
  }
  return { ok: true, value };
}

export function checkCidr(value: unknown): Checked<string> {
  const [address, prefix, ...rest] = typeof value === 'string' ? value.split('/') : [];
  const prefixLength = Number(prefix);
  if (rest.length > 0 || !checkIPv4(address).ok || !Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
    return { ok: false, reason: `'${String(value)}' is not an IPv4 pool like 172.17.0.0/16 (prefix 8 to 30)` };
  }
  return { ok: true, value: `${networkOf(address as string, prefixLength)}/${prefixLength}` };
}

// The guest's IPv4 address fills the last 32 bits of its IPv6 address.
export function checkPool6(value: unknown): Checked<string> {
  const [address, prefix, ...rest] = typeof value === 'string' ? value.toLowerCase().split('/') : [];
  const prefixLength = Number(prefix);
  if (rest.length > 0 || !checkIPv6(address).ok || !Number.isInteger(prefixLength) || prefixLength < 64 || prefixLength > 96) {
    return { ok: false, reason: `'${String(value).slice(0, 60)}' is not an IPv6 pool like fd00:1:2:3::/64 (prefix 64 to 96)` };
  }
  return { ok: true, value: `${bigIntToIpv6(parsePool6(`${address}/${prefixLength}`).network)}/${prefixLength}` };
}

export const oneOf =
  <T extends string>(choices: readonly T[]) =>
  (value: unknown): Checked<T> =>
    choices.includes(value as T) ? { ok: true, value: value as T } : { ok: false, reason: `must be one of ${choices.join(', ')}` };

export function checkVlanId(value: unknown): Checked<number> {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 4094
    ? { ok: true, value: value as number }
    : { ok: false, reason: 'must be a VLAN id from 1 to 4094' };
}

export function checkIpv6Choice(value: unknown): Checked<Ipv6Choice> {
  return IPV6_CHOICES.includes(value as Ipv6Choice)
    ? { ok: true, value: value as Ipv6Choice }
    : { ok: false, reason: `must be one of ${IPV6_CHOICES.join(', ')}` };
}

// Room for a digit suffix: vm_wlan + up to 3 digits stays within IFNAMSIZ.
export function checkIfPrefix(value: unknown): Checked<string> {
  const checked = checkIfName(value);
  if (checked.ok && checked.value.length > 12) return { ok: false, reason: 'must be at most 12 characters' };
  return checked;
}

export function checkBoolean(value: unknown): Checked<boolean> {
  return typeof value === 'boolean' ? { ok: true, value } : { ok: false, reason: 'must be true or false' };
}

// A flag's word, or the config file's word or boolean.
export function checkOnOff(value: unknown): Checked<boolean> {
  if (value === true || value === 'on') return { ok: true, value: true };
  if (value === false || value === 'off') return { ok: true, value: false };
  return { ok: false, reason: 'must be on or off' };
}

export function checkFirewall(value: unknown): Checked<FirewallChoice> {
  const choices: readonly unknown[] = ['auto', ...FIREWALLS];
  return choices.includes(value)
    ? { ok: true, value: value as FirewallChoice }
    : { ok: false, reason: `must be one of ${choices.join(', ')}` };
}

export function checkTimeout(value: unknown): Checked<number> {
  if (!Number.isInteger(value) || (value as number) < 100 || (value as number) > 3_600_000) {
    return { ok: false, reason: 'must be milliseconds from 100 to 3600000' };
  }
  return { ok: true, value: value as number };
}

export function checkDnsList(value: unknown): Checked<string[]> {
  const items = typeof value === 'string' ? value.split(',').filter(Boolean) : value;
  if (!Array.isArray(items) || items.length > 4) return { ok: false, reason: 'must be up to 4 IPv4 addresses' };
  for (const item of items) {
    const checked = checkIPv4(item);
    if (!checked.ok) return checked;
  }
  return { ok: true, value: items as string[] };
}

export function checkPlatform(value: unknown): Checked<Platform> {
  return PLATFORMS.includes(value as Platform)
    ? { ok: true, value: value as Platform }
    : { ok: false, reason: 'must be auto, linux or android' };
}
