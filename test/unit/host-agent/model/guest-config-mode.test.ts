import assert from 'node:assert/strict';
import { dhcpIpv6, refuseOneShot, resolveSettings, settingsForMode, SETTINGS, waitOf } from '@guestnet/host-agent';
import { ConfigError, UsageError } from '@guestnet/protocol';

// --guest-config: checked like every setting, and what each mode changes in an attach.

describe('--guest-config', () => {
  it('is agent by default, takes dhcp and host from a flag or the config file, and refuses anything else in one line', () => {
    assert.equal(resolveSettings({}, {}, 'none').guestConfig, 'agent');
    assert.equal(resolveSettings({ guestConfig: 'host' }, {}, 'c.json').guestConfig, 'host');
    assert.equal(resolveSettings({ guestConfig: 'host' }, { guestConfig: 'dhcp' }, 'c.json').guestConfig, 'dhcp');
    assert.throws(
      () => resolveSettings({}, { guestConfig: 'slaac' }, 'none'),
      (e: Error) => e instanceof UsageError && /^--guest-config: /.test(e.message),
    );
    assert.throws(() => resolveSettings({ guestConfig: 1 }, {}, 'c.json'), ConfigError);
    assert.match(SETTINGS.guestConfig.help, /agent .* dhcp .* host/);
  });

  it('is for the routed veth: a bridged or LAN guest has its network to configure it', () => {
    for (const flags of [{ type: 'veth', link: 'br0' }, { type: 'macvlan', link: 'eth1' }, { type: 'empty' }])
      assert.throws(
        () => resolveSettings({}, { ...flags, guestConfig: 'dhcp' }, 'none'),
        /--guest-config dhcp is for the routed veth \(--type veth without --link\)/,
      );
    assert.throws(() => resolveSettings({ type: 'veth', link: 'br0', guestConfig: 'host' }, {}, 'c.json'), ConfigError);
  });

  it('makes the link of a guest with no agent under its final name; a dhcp guest keeps its IPv6 choice', () => {
    const settings = settingsForMode(resolveSettings({}, { guestConfig: 'dhcp', guestName: 'eth0', ipv6: 'nat' }, 'none'));
    assert.equal(settings.ipv6, 'nat');
    // No agent renames the link: it is made under its final name.
    assert.equal(settings.guestIf, 'eth0');
    const host = settingsForMode(resolveSettings({}, { guestConfig: 'host', guestName: 'eth0' }, 'none'));
    assert.deepEqual([host.guestIf, host.ipv6], ['eth0', 'auto']);
    const agent = resolveSettings({}, { guestName: 'eth0' }, 'none');
    assert.equal(settingsForMode(agent), agent);
  });

  it("gives a dhcp guest the address its kernel forms by SLAAC in the pool's /64; a pool of another length gives none, or is refused", () => {
    const mac = '02:67:6e:11:03:03';
    const ipv6 = {
      mode: 'nat' as const,
      hostAddress: 'fd00:1:2:3::1',
      guestAddress: 'fd00:1:2:3::ac11:303',
      prefixLength: 64,
      uplink: 'wlan0',
    };
    assert.deepEqual(dhcpIpv6(ipv6, mac, 'auto'), { ...ipv6, guestAddress: 'fd00:1:2:3:67:6eff:fe11:303' });
    assert.equal(dhcpIpv6(undefined, mac, 'auto'), undefined);
    const longer = { ...ipv6, prefixLength: 96 };
    assert.equal(dhcpIpv6(longer, mac, 'auto'), undefined, 'auto: IPv4 only');
    assert.throws(
      () => dhcpIpv6(longer, mac, 'routed'),
      (e: Error) => e instanceof UsageError && /forms its IPv6 address by SLAAC, in a \/64, and --pool6 is a \/96/.test(e.message),
    );
  });

  it('attach waits for an agent unless --no-wait, for a dhcp guest only with --wait-lease, which is for dhcp alone', () => {
    const mode = (guestConfig: 'agent' | 'dhcp' | 'host') => ({ guestConfig });
    assert.equal(waitOf(mode('agent'), {}), true);
    assert.equal(waitOf(mode('agent'), { wait: false }), false);
    assert.equal(waitOf(mode('dhcp'), {}), false);
    assert.equal(waitOf(mode('dhcp'), { waitLease: true }), true);
    assert.throws(
      () => waitOf(mode('agent'), { waitLease: true }),
      (e: Error) => e instanceof UsageError && /--wait-lease is for/.test(e.message),
    );
    assert.throws(() => waitOf(mode('host'), { waitLease: true }), UsageError);
  });

  it('a one-shot attach refuses dhcp, which needs the daemon, and lets the others through', () => {
    assert.throws(
      () => refuseOneShot({ guestConfig: 'dhcp', stateDir: '/run/gn' }),
      (e: Error) => e instanceof UsageError && /needs the daemon: no host-agent serve serves \/run\/gn/.test(e.message),
    );
    refuseOneShot({ guestConfig: 'host', stateDir: '/run/gn' });
    refuseOneShot({ guestConfig: 'agent', stateDir: '/run/gn' });
  });
});
