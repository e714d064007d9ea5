import assert from 'node:assert/strict';
import { helpOf, resolveSettings, SETTINGS } from '@guestnet/host-agent';
import { ConfigError, UsageError } from '@guestnet/protocol';

describe('host settings', () => {
  it("defaults to the design's layout", () => {
    const s = resolveSettings({}, {}, 'none');
    assert.deepEqual(
      [s.hostIfPrefix, s.guestIf, s.guestName, s.gateway, s.pool, s.uplink, s.guestToGuest],
      ['vm_wlan', 'vm_wlan0', 'wlan0', '172.17.3.2', '172.17.0.0/16', undefined, false],
    );
  });

  it('lets the config override defaults and flags override the config', () => {
    const s = resolveSettings({ mtu: 1400, uplink: 'rmnet_data0' }, { mtu: '1280' }, 'c.json');
    assert.equal(s.mtu, 1280);
    assert.equal(s.uplink, 'rmnet_data0');
  });

  it('gives every command a deadline, from the config or a flag', () => {
    assert.ok(resolveSettings({}, {}, 'none').commandTimeout >= 10_000, 'a generous default');
    assert.equal(resolveSettings({ commandTimeout: 20_000 }, {}, 'c.json').commandTimeout, 20_000);
    assert.equal(resolveSettings({ commandTimeout: 20_000 }, { commandTimeout: '5000' }, 'c.json').commandTimeout, 5000);
    assert.match(SETTINGS.commandTimeout.flag, /^--command-timeout </);
    assert.throws(() => resolveSettings({ commandTimeout: 0 }, {}, 'c.json'), /key 'commandTimeout' must be milliseconds/);
    assert.throws(() => resolveSettings({}, { commandTimeout: 'soon' }, 'none'), UsageError);
  });

  it('names the config key that is wrong', () => {
    assert.throws(
      () => resolveSettings({ mtu: 'big' }, {}, 'c.json'),
      (e: Error) => e instanceof ConfigError && /key 'mtu'/.test(e.message),
    );
    assert.throws(() => resolveSettings({ __proto__x: 1 }, {}, 'c.json'), /unknown key '__proto__x'/);
  });

  it('refuses hostile interface names and inconsistent addresses', () => {
    for (const name of ['../x', 'eth0; reboot', 'x'.repeat(200), '-eth0']) {
      assert.throws(() => resolveSettings({}, { hostIf: name }, 'none'), UsageError, name);
    }
    assert.throws(() => resolveSettings({}, { guestAddress: '10.0.0.3' }, 'none'), /not a usable address of the pool/);
    assert.throws(() => resolveSettings({ pool: '10.0.0.0/31' }, {}, 'none'), /not an IPv4 pool/);
    assert.throws(() => resolveSettings({}, { dns: '1.2.3.4,nope' }, 'none'), /not an IPv4 address/);
  });

  it("every setting's help tells its default", () => {
    assert.equal(helpOf('timeout'), 'how long to wait for the guest agent (default: 30000)');
    assert.match(helpOf('type'), /\(default: veth\)$/);
    const defaults = resolveSettings({}, {}, 'none');
    for (const key of Object.keys(SETTINGS) as Array<keyof typeof SETTINGS>) {
      const value = defaults[key];
      if (value === undefined || typeof value === 'boolean') continue;
      assert.match(helpOf(key), /\(default/, key);
    }
  });

  it('locks bridged ports by default; --port-security off, or "off" or false in the config, opts out', () => {
    assert.equal(resolveSettings({}, {}, 'none').portSecurity, true);
    assert.equal(resolveSettings({}, { portSecurity: 'off' }, 'none').portSecurity, false);
    assert.equal(resolveSettings({ portSecurity: false }, {}, 'c.json').portSecurity, false);
    assert.equal(resolveSettings({ portSecurity: 'off' }, { portSecurity: 'on' }, 'c.json').portSecurity, true);
    assert.throws(() => resolveSettings({}, { portSecurity: 'maybe' }, 'none'), /--port-security: must be on or off/);
    assert.throws(() => resolveSettings({ portSecurity: 1 }, {}, 'c.json'), /key 'portSecurity' must be on or off/);
  });
});
