import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecord, readRecords, recordContent } from '@guestnet/host-agent';
import { ConfigError } from '@guestnet/protocol';
import { sampleRecord, typedRecord } from '../../../fixtures/records.js';

const path = '/state/attachments/100.json';
const text = (value: unknown) => JSON.stringify(value);

describe('attachment records', () => {
  it('reads back what attach writes', () => {
    const record = sampleRecord({ forwards: [{ protocol: 'udp', hostPort: 53, guestPort: 5353 }], policyTable: 1003, uplinkPinned: true });
    assert.deepEqual(parseRecord(path, text(record)), record);
    const nic = { bus: 'pci', device: '0000:03:00.0', permanentMac: '00:1b:21:3a:4f:10' };
    const phys = typedRecord({
      type: 'phys',
      link: 'eth2',
      phys: { addresses: ['192.168.77.10/24'], up: true, mtu: 1500, alias: '', nic },
    });
    assert.deepEqual(parseRecord(path, text(phys)), phys);
    const bridged = typedRecord({ type: 'veth', link: 'br0', portSecurity: true });
    assert.deepEqual(parseRecord(path, text(bridged)), bridged);
    // An --ipv6 auto guest's pool is the routed veth's own field, and an older version's veth keeps it when upgraded.
    const auto = sampleRecord({ ipv6Auto: { pool6: 'fd00:1:2:3::/64' } });
    assert.deepEqual(parseRecord(path, text(auto)), auto);
    const { type: _, ...untyped } = auto;
    assert.deepEqual(parseRecord(path, text(untyped)), auto);
    assert.throws(() => parseRecord(path, text(typedRecord({ type: 'veth', link: 'br0', ipv6Auto: auto.ipv6Auto }))), ConfigError);
    // Who configures a guest with no agent is the routed veth's own field too.
    for (const guestConfig of ['dhcp', 'host'] as const) {
      const mode = sampleRecord({ guestIf: 'eth0', guestName: 'eth0', guestConfig });
      assert.deepEqual(parseRecord(path, text(mode)), mode);
    }
    assert.throws(() => parseRecord(path, text(typedRecord({ type: 'veth', link: 'br0', guestConfig: 'dhcp' }))), ConfigError);
  });

  it("upgrades an older version's records: a type for every veth, each type's own fields, no sentinel name or address", () => {
    const { type: _, ...routed } = sampleRecord();
    // Written before records had a type: a routed veth.
    assert.deepEqual(parseRecord(path, text(routed)), sampleRecord());
    const old = { ...routed, guestToGuest: false, forwards: [], dns: [] as string[] };
    const dhcpBridge = { ...old, type: 'veth', link: 'br0', hostIf: 'vm_wlan', uplink: 'br0', dhcp: true, portSecurity: true };
    const upgraded = parseRecord(path, text({ ...dhcpBridge, hostAddress: '0.0.0.0', guestAddress: '0.0.0.0', prefixLength: 0 }));
    assert.equal(upgraded.type, 'bridged-veth');
    for (const gone of ['uplink', 'hostAddress', 'guestAddress', 'prefixLength', 'guestToGuest', 'forwards'])
      assert.ok(!(gone in upgraded), `${gone} is gone`);
    const empty = parseRecord(
      path,
      text({ ...old, type: 'empty', hostIf: 'lo', uplink: 'lo', hostAddress: '0.0.0.0', guestAddress: '0.0.0.0' }),
    );
    assert.deepEqual(Object.keys(empty).sort(), ['firewall', 'id', 'netns', 'netnsPath', 'pid', 'token', 'type']);
    const macvlan = parseRecord(path, text({ ...old, type: 'macvlan', link: 'eth1', hostIf: 'eth1', uplink: 'eth1' }));
    assert.deepEqual(
      [macvlan.type, 'hostIf' in macvlan, 'uplink' in macvlan, 'macvlanMode' in macvlan && macvlan.macvlanMode],
      ['macvlan', false, false, 'bridge'],
    );
  });

  it('refuses text that is not JSON, or JSON that is not an object, in one clear line', () => {
    for (const bad of ['{', 'null', '[]', '"x"', '42']) {
      assert.throws(
        () => parseRecord(path, bad),
        (error: unknown) =>
          error instanceof ConfigError && /state file \/state\/attachments\/100\.json is (not valid JSON|damaged)/.test(error.message),
      );
    }
  });

  it('refuses fields that would be unsafe on a command line or make no sense', () => {
    const cases: Array<Record<string, unknown>> = [
      { hostIf: 'eth0; reboot' },
      { uplink: 'wl"an0' },
      { guestAddress: '172.17.3.300' },
      { dns: ['8.8.8.8', 'x'] },
      { token: 'guestnet:short' },
      { forwards: [{ protocol: 'sctp', hostPort: 1, guestPort: 1 }] },
      { firewall: 'pf' },
      { netnsPath: 'relative/path' },
      { policyTable: -1 },
      { uplinkPinned: false },
      { id: '../x' },
      { portSecurity: false },
      { guestConfig: 'radio' },
      { guestConfig: 'dhcp; reboot' },
      { ipv6Auto: { pool6: 'fd00::/64; reboot' } },
      { ipv6Auto: { pool6: 'fd00::/8' } },
      { phys: { addresses: [], up: true, mtu: 1500, alias: '', nic: { bus: 'pci', device: '', permanentMac: '00:1b:21:3a:4f:10' } } },
      { phys: { addresses: [], up: true, mtu: 1500, alias: '', nic: { bus: 'pci', device: '0000:03:00.0', permanentMac: 'nope' } } },
    ];
    for (const change of cases) {
      assert.throws(() => parseRecord(path, text({ ...sampleRecord(), ...change })), ConfigError, JSON.stringify(change));
    }
    const { token, ...withoutToken } = sampleRecord();
    assert.throws(() => parseRecord(path, text(withoutToken)), ConfigError);
  });

  it('skips a record that is gone by the time it is read, as a reaping detach leaves it', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    try {
      await mkdir(join(stateDir, 'attachments'));
      await writeFile(join(stateDir, 'attachments', '100.json'), recordContent(sampleRecord()));
      // Listed, then gone: a name whose file does not exist when it is read.
      await symlink(join(stateDir, 'removed.json'), join(stateDir, 'attachments', '101.json'));
      assert.deepEqual(
        (await readRecords(stateDir)).map((r) => r.id),
        ['100'],
      );
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('reads an empty record, which only a power cut leaves, as no record; a damaged one still fails loudly', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    try {
      await mkdir(join(stateDir, 'attachments'));
      await writeFile(join(stateDir, 'attachments', '100.json'), recordContent(sampleRecord()));
      await writeFile(join(stateDir, 'attachments', '101.json'), '');
      assert.deepEqual(
        (await readRecords(stateDir)).map((r) => r.id),
        ['100'],
      );
      await writeFile(join(stateDir, 'attachments', '101.json'), '{"id": "1');
      await assert.rejects(readRecords(stateDir), ConfigError);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
