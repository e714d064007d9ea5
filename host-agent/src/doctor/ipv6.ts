import { ipv6Uplink } from '../model/host.js';
import { observeIpv6 } from '../net/ipv6.js';
import { type Check, type Finding, ok } from './finding.js';

/**
 * Whether guests will get IPv6, and why not. Under auto, a host without IPv6
 * to share is fine (guests get IPv4); asking for nat or routed there fails.
 */
export const ipv6: Check = async (settings, runner) => {
  const check = 'ipv6';
  const { ipv6: choice } = settings;
  if (choice === 'off') return [ok(check, 'off (--ipv6 off): guests get IPv4 only')];
  const host = await observeIpv6(runner, settings.stateDir, true);
  const missing = (detail: string, fix: string): Finding[] => [
    { check, status: choice === 'auto' ? 'warn' : 'fail', detail: `${detail}: guests get IPv4 only`, fix },
  ];
  if (host.forwarding === undefined) {
    return missing(
      'IPv6 is switched off in this kernel (ipv6.disable=1, or disable_ipv6=1 for all or new links)',
      'boot without ipv6.disable=1 and set net.ipv6.conf.all.disable_ipv6=0 and net.ipv6.conf.default.disable_ipv6=0',
    );
  }
  const uplink = ipv6Uplink(host);
  if (uplink === undefined)
    return missing(
      'the host has no IPv6 default route',
      'give the uplink IPv6 (router advertisements, DHCPv6 or a static route), or attach with --ipv6 off',
    );
  if (choice === 'auto' && !host.global.has(uplink))
    return missing(`${uplink}, the IPv6 uplink, has no global address`, 'give the uplink a global IPv6 address, or attach with --ipv6 off');
  const findings: Finding[] = [ok(check, `guests get IPv6 (${choice === 'auto' ? 'nat' : choice}) via ${uplink}`)];
  // Someone else turned forwarding on: the uplink then ignores router advertisements unless accept_ra is 2.
  if (host.forwarding === '1' && host.acceptRa.get(uplink) === '1' && host.before === undefined) {
    findings.push({
      check,
      status: 'warn',
      detail: `IPv6 forwarding is on and ${uplink} has accept_ra=1: it ignores router advertisements, and an RA-learned default route will expire`,
      fix: `sysctl -w net.ipv6.conf.${uplink}.accept_ra=2`,
    });
  }
  return findings;
};
