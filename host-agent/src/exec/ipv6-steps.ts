import type { GuestIpv6 } from '../model/ipv6.js';
import { IPV6_CONF_DIR } from '../model/paths.js';
import { GUEST_RULE_PRIORITY, LOCAL_NETWORK_TABLE } from '../model/policy.js';
import type { RoutedVethRecord } from '../model/record.js';
import type { Step } from '../model/step.js';

// A guest's IPv6 on its host end, added or removed while the guest stays
// attached: the daemon gives IPv6 to `--ipv6 auto` guests when the host
// gains IPv6 to share, and takes it back when the host loses it
// (plan/ipv6-follow.ts). The end state of each is the host end an attach
// would have made with that IPv6, or without any.

type GuestIpv6Op = { record: RoutedVethRecord; ipv6: GuestIpv6 };

const GONE = /No such file or directory|No such process|Cannot find device|Cannot assign requested address/;

const disableIpv6 = (r: RoutedVethRecord, value: '0' | '1'): Step => ({
  kind: 'sysctl',
  path: `${IPV6_CONF_DIR}/${r.hostIf}/disable_ipv6`,
  value,
  ifPresent: true,
});

/** A netd-style host's pieces: the ip rule to the uplink's table (IPv6's, beside IPv4's), and the guest's /128 in table 97. */
const deleteRule6 = (r: RoutedVethRecord): Step => ({
  kind: 'run',
  argv: ['ip', '-6', 'rule', 'del', 'priority', String(GUEST_RULE_PRIORITY), 'iif', r.hostIf],
  tolerate: GONE,
});

export const guestIpv6Steps = {
  // IPv6 comes on before the addresses go in: the kernel refuses them on a link with it off.
  addGuestIpv6: ({ record: r, ipv6 }: GuestIpv6Op): Step[] => [
    disableIpv6(r, '0'),
    {
      kind: 'run',
      argv: ['ip', '-6', '-batch', '-'],
      input: `address replace ${ipv6.hostAddress}/128 dev ${r.hostIf} nodad\nroute replace ${ipv6.guestAddress}/128 dev ${r.hostIf}\n`,
    },
    // As addPolicyRoute does for a guest attached with IPv6: whatever rule the link had goes first.
    ...(r.policyTable === undefined
      ? []
      : [
          deleteRule6(r),
          {
            kind: 'run' as const,
            argv: ['ip', '-6', '-batch', '-'],
            input:
              `rule add priority ${GUEST_RULE_PRIORITY} iif ${r.hostIf} lookup ${r.policyTable}\n` +
              `route replace ${ipv6.guestAddress}/128 dev ${r.hostIf} table ${LOCAL_NETWORK_TABLE}\n`,
          },
        ]),
  ],
  // Turning IPv6 off on the host end takes its addresses and routes with it; the rule and table 97 are not the link's.
  removeGuestIpv6: ({ record: r, ipv6 }: GuestIpv6Op): Step[] => [
    ...(r.policyTable === undefined
      ? []
      : [
          deleteRule6(r),
          {
            kind: 'run' as const,
            argv: ['ip', '-6', 'route', 'del', `${ipv6.guestAddress}/128`, 'dev', r.hostIf, 'table', String(LOCAL_NETWORK_TABLE)],
            tolerate: GONE,
          },
        ]),
    disableIpv6(r, '1'),
  ],
};
