import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DhcpHostLooks,
  dhcpFindings,
  type GuestStatus,
  recordContent,
  recordPath,
  resolveSettings,
  type RoutedVethRecord,
  statePaths,
} from '@guestnet/host-agent';
import { FramedConnection } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

// What doctor says of --guest-config dhcp guests, from given records, a
// daemon's status (a stand-in on the control socket), the UDP table and
// whether radvd is there: nothing answers them without a daemon; a guest
// whose client never asked has no address; IPv6 needs radvd.

/** /proc/net/udp with one socket bound to 0.0.0.0:67, and one bound to 172.17.3.2:67 only. */
const WILDCARD_67 = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
  '  12: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41234 2 0000000000000000 0',
].join('\n');
const BOUND_67 = WILDCARD_67.replace('00000000:0043', '020311AC:0043');

const looks = (table: string, radvd: string | undefined): DhcpHostLooks => ({
  udpTable: async () => table,
  radvdVersion: async () => radvd,
});
const HOST = looks('', '2.19');

const dhcpRecord = (pid: number, overrides: Partial<RoutedVethRecord> = {}) =>
  sampleRecord({ pid, hostIf: `vm_wlan${pid}`, guestConfig: 'dhcp', ...overrides });
const ipv6 = { mode: 'nat' as const, hostAddress: 'fd00::1', guestAddress: 'fd00::2', prefixLength: 64, uplink: 'wlan0' };

/** A guest as the daemon's status shows it, with the lease view given. */
const shown = (record: RoutedVethRecord, dhcp: GuestStatus['dhcp'], state: GuestStatus['state'] = 'alive') =>
  ({ label: String(record.pid), hostIf: record.hostIf, guestIf: 'eth0', guestConfig: 'dhcp', state, dhcp }) as Partial<GuestStatus>;

describe('doctor/dhcp: what doctor says of guests that take their configuration by DHCP', () => {
  let stateDir: string;
  let daemon: Server | undefined;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => {
    await new Promise((resolve) => (daemon ? daemon.close(resolve) : resolve(undefined)));
    daemon = undefined;
    await rm(stateDir, { recursive: true, force: true });
  });
  const settings = () => ({ ...resolveSettings({}, {}, 'test'), stateDir });

  async function attached(...records: RoutedVethRecord[]): Promise<void> {
    await mkdir(statePaths(stateDir).attachments, { recursive: true });
    for (const record of [sampleRecord({ pid: 50 }), ...records])
      await writeFile(recordPath(stateDir, record.id), recordContent(record), { mode: 0o600 });
  }

  /** A daemon on the state dir's control socket that answers status with these guests. */
  async function serving(guests: Array<Partial<GuestStatus>>): Promise<void> {
    daemon = createServer((socket) => {
      const connection = new FramedConnection(socket, (raw) => raw as { type: string });
      void connection.receive(5000).then((request) => {
        assert.equal(request.type, 'status');
        connection.end({ type: 'reply', ok: true, result: { daemon: true, guests } });
      });
    });
    await new Promise<void>((resolve) => daemon?.listen(statePaths(stateDir).controlSocket, resolve));
  }

  it('passes with no dhcp guest, saying when port 67 is held on every address', async () => {
    await attached();
    assert.deepEqual(await dhcpFindings(settings(), HOST), [
      { check: 'dhcp', status: 'ok', detail: 'no guest takes its configuration by DHCP' },
    ]);
    const [held] = await dhcpFindings(settings(), looks(WILDCARD_67, '2.19'));
    assert.equal(
      held?.detail,
      'no guest takes its configuration by DHCP (port 67 is held on every address, by the daemon or another DHCP server)',
    );
    assert.doesNotMatch((await dhcpFindings(settings(), looks(BOUND_67, '2.19')))[0]?.detail ?? '', /port 67/);
  });

  it('fails when dhcp guests are attached and no daemon serves the state dir', async () => {
    await attached(dhcpRecord(101), dhcpRecord(102));
    const findings = await dhcpFindings(settings(), HOST);
    assert.deepEqual(
      findings.map((f) => [f.status, f.fix]),
      [['fail', `start host-agent serve --state-dir ${stateDir}`]],
    );
    assert.match(findings[0]?.detail ?? '', /^2 guest\(s\) attached with --guest-config dhcp, and no daemon serves/);
  });

  it('warns of each live guest whose client never asked for its lease, naming its link', async () => {
    const [asked, silent, gone] = [dhcpRecord(101), dhcpRecord(102), dhcpRecord(103)];
    await attached(asked, silent, gone);
    await serving([
      shown(asked, { state: 'bound', address: '172.17.3.3' }),
      shown(silent, { state: 'none', address: '172.17.3.4' }),
      shown(gone, { state: 'none', address: '172.17.3.5' }, 'gone'),
      { ...shown(silent, { state: 'none', address: '172.17.3.6' }), guestConfig: 'agent', label: 'agent-guest' },
    ]);
    const findings = await dhcpFindings(settings(), HOST);
    assert.deepEqual(
      findings.map((f) => [f.status, f.detail, f.fix]),
      [
        [
          'warn',
          'guest 102 (vm_wlan102) never asked for its lease since the daemon started: it has no address',
          'run a DHCP client on eth0 in the guest (udhcpc -i eth0), or attach it with --guest-config host',
        ],
      ],
    );
  });

  it('passes when every live dhcp guest has asked', async () => {
    const [one, two] = [dhcpRecord(101), dhcpRecord(102)];
    await attached(one, two);
    await serving([shown(one, { state: 'bound', address: '172.17.3.3' }), shown(two, { state: 'released', address: '172.17.3.4' })]);
    assert.deepEqual(await dhcpFindings(settings(), HOST), [
      { check: 'dhcp', status: 'ok', detail: '2 DHCP guest(s), each of which has asked for its lease' },
    ]);
  });

  it('warns that dhcp guests with IPv6 get none without radvd, and only those', async () => {
    const [four, six] = [dhcpRecord(101), dhcpRecord(102, { ipv6 })];
    await attached(four, six);
    await serving([shown(four, { state: 'bound', address: '172.17.3.3' }), shown(six, { state: 'bound', address: '172.17.3.4' })]);
    const [finding, ...rest] = await dhcpFindings(settings(), looks('', undefined));
    assert.deepEqual([finding?.status, rest], ['warn', []]);
    assert.match(finding?.detail ?? '', /^radvd is not installed: 1 dhcp guest\(s\) get no router advertisements/);
    assert.equal((await dhcpFindings(settings(), HOST))[0]?.status, 'ok', 'with radvd there is nothing to say');
    await rm(recordPath(stateDir, six.id));
    assert.equal((await dhcpFindings(settings(), looks('', undefined)))[0]?.status, 'ok', 'IPv4 guests need no radvd');
  });
});
