import assert from 'node:assert/strict';
import { RaConfigError, type RaLink, radvdConfig, raHostEndSysctls } from '@guestnet/host-agent';

const LINK: RaLink = { link: 'vm_wlan', prefix: '2001:db8:3:10::/64', rdnss: ['2001:db8:3::1'], mtu: 1400 };

describe('router advertisements: radvd config', () => {
  it('advertises on each guest link its /64 for SLAAC, the RDNSS and the MTU, and nothing else', () => {
    assert.equal(
      radvdConfig([LINK]),
      [
        '# written by guestnet host-agent: router advertisements on guest links only',
        'interface vm_wlan {',
        '\tAdvSendAdvert on;',
        '\tIgnoreIfMissing on;',
        '\tAdvLinkMTU 1400;',
        '\tprefix 2001:db8:3:10::/64 {',
        '\t\tAdvOnLink on;',
        '\t\tAdvAutonomous on;',
        '\t};',
        '\tRDNSS 2001:db8:3::1 {',
        '\t};',
        '};',
        '',
      ].join('\n'),
    );
  });

  it('writes the same file for the same links in any order, and no RDNSS block without servers', () => {
    const other = { ...LINK, link: 'vm_wlan1', prefix: '2001:db8:3:11::/64', rdnss: [] };
    assert.equal(radvdConfig([other, LINK]), radvdConfig([LINK, other]));
    assert.doesNotMatch(radvdConfig([other]), /RDNSS/);
  });

  const refused: Array<[string, RaLink[]]> = [
    ['a name radvd would read as more', [{ ...LINK, link: 'x { AdvSendAdvert on; }; interface eth0' }]],
    ['a name longer than the kernel allows', [{ ...LINK, link: 'a'.repeat(16) }]],
    ['the loopback', [{ ...LINK, link: 'lo' }]],
    ['a prefix that is not a /64', [{ ...LINK, prefix: '2001:db8:3::/56' }]],
    ['a prefix that is not IPv6', [{ ...LINK, prefix: '192.0.2.0/64' }]],
    ['an RDNSS that is not an address', [{ ...LINK, rdnss: ['2001:db8::1; };'] }]],
    ['more than three RDNSS', [{ ...LINK, rdnss: ['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4'] }]],
    ['an MTU below IPv6 minimum', [{ ...LINK, mtu: 1200 }]],
    ['a link twice', [LINK, LINK]],
  ];
  for (const [what, links] of refused) it(`refuses ${what}`, () => assert.throws(() => radvdConfig(links), RaConfigError));

  it("keeps the host from taking RAs or redirects on a guest link's host end", () => {
    assert.deepEqual(raHostEndSysctls('vm_wlan'), [
      { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/accept_ra', value: '0', ifPresent: true },
      { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/accept_redirects', value: '0', ifPresent: true },
    ]);
  });
});
