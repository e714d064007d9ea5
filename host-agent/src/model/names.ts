// Kept apart from the backends so the CLI can validate a name without loading them.
export const FIREWALLS = ['nftables', 'iptables', 'iptables-legacy'] as const;
export type FirewallName = (typeof FIREWALLS)[number];
export type FirewallChoice = FirewallName | 'auto';

export type Platform = 'auto' | 'linux' | 'android';
export const PLATFORMS: readonly Platform[] = ['auto', 'linux', 'android'];
