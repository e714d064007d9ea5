import { UsageError } from '@guestnet/protocol';
import { readSmallFile } from '@guestnet/runtime';
import { hostQueries } from '../model/host-queries.js';
import type { FirewallChoice, FirewallName } from '../model/names.js';
import type { AttachmentRecord } from '../model/record.js';
import type { Reader } from '../model/step.js';
import { onPath } from '../net/tools.js';
import type { Firewall } from './firewall.js';
import { iptables } from './iptables.js';
import { nftables } from './nftables.js';

export function firewallNamed(name: FirewallName): Firewall {
  return name === 'nftables' ? nftables : iptables(name);
}

/**
 * Where the host's own rules live, so guestnet's land beside them, not in a
 * parallel world ("split brain"): legacy tables in use mean iptables-legacy;
 * iptables-nft's tables (ip filter / ip nat, as Docker and ufw make) mean
 * iptables, whose jump at position 1 of FORWARD precedes their DROP; otherwise
 * nftables. Reads /proc rather than running iptables-legacy, which would load
 * its modules.
 */
export async function detectFirewall(runner: Reader): Promise<FirewallName> {
  const legacyTables = await readSmallFile('/proc/net/ip_tables_names').catch(() => '');
  if (legacyTables.trim() !== '' && (await onPath('iptables-legacy'))) {
    const rules = await runner.query(hostQueries.iptablesLegacySave).catch(() => '');
    if (/^-A |^:\w+ DROP/m.test(rules)) return 'iptables-legacy';
  }
  if (await onPath('nft')) {
    const tables = await runner.query(hostQueries.nftTables).catch(() => '');
    return /^table ip (filter|nat)$/m.test(tables) && (await onPath('iptables')) ? 'iptables' : 'nftables';
  }
  return (await onPath('iptables')) ? 'iptables' : 'nftables';
}

/** The backend for the next change: the one attached guests already use, else the choice, else detection. */
export async function firewallFor(choice: FirewallChoice, records: readonly AttachmentRecord[], runner: Reader): Promise<Firewall> {
  const inUse = records.find((r) => r.firewall)?.firewall;
  if (inUse) {
    if (choice !== 'auto' && choice !== inUse)
      throw new UsageError(`guests are attached with ${inUse}; detach them all before switching to ${choice}`);
    return firewallNamed(inUse);
  }
  return firewallNamed(choice === 'auto' ? await detectFirewall(runner) : choice);
}
