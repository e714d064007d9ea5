import { access } from 'node:fs/promises';
import { describeType, recordTypeOf } from '../model/link-type.js';
import { type Check, type Finding, ok } from './finding.js';

const PROBES: Record<string, string> = {
  macvlan: 'link add gnprobe2 link gnprobe0 type macvlan mode bridge',
  ipvlan: 'link add gnprobe2 link gnprobe0 type ipvlan mode l2',
  vlan: 'link add gnprobe2 link gnprobe0 type vlan id 5',
};
const CONFIG: Record<string, string> = { macvlan: 'CONFIG_MACVLAN', ipvlan: 'CONFIG_IPVLAN', vlan: 'CONFIG_VLAN_8021Q' };

/**
 * What the chosen network type needs: the kernel's support, tried in a
 * brand-new netns on a veth parent, and for macvlan a parent that is not a
 * Wi-Fi client, whose access point would drop frames from unassociated MACs.
 */
export const linkType: Check = async (settings, runner) => {
  const check = 'network type';
  const { type, link } = settings;
  const findings: Finding[] = [ok(check, describeType({ ...settings, type: recordTypeOf(settings) }))];
  const probe = PROBES[type];
  if (probe) {
    const failed = await runner
      .perform({
        kind: 'run',
        argv: ['unshare', '--net', 'ip', '-batch', '-'],
        input: `link add gnprobe0 type veth peer name gnprobe1\n${probe}\n`,
      })
      .then(
        () => undefined,
        (error: Error) => error.message,
      );
    findings.push(
      failed
        ? {
            check,
            status: 'fail',
            detail: `this kernel has no ${type} links (${CONFIG[type]})`,
            fix: `load or build the ${type} module, or choose another --type`,
          }
        : ok(check, `${type} links work`),
    );
  }
  if (link !== undefined) {
    const exists = await access(`/sys/class/net/${link}`).then(
      () => true,
      () => false,
    );
    if (!exists)
      findings.push({ check, status: 'fail', detail: `--link ${link} does not exist`, fix: 'name an interface of this host (ip link)' });
    const wireless = await access(`/sys/class/net/${link}/wireless`).then(
      () => true,
      () => false,
    );
    if (exists && wireless && type === 'macvlan') {
      findings.push({
        check,
        status: 'warn',
        detail: `${link} is a Wi-Fi interface: its access point drops frames from a macvlan's MAC, which never associated`,
        fix: "--type ipvlan shares the parent's MAC and works on Wi-Fi",
      });
    }
  }
  return findings;
};
