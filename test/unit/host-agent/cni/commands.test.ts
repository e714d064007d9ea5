import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachmentService,
  type CniDaemon,
  cniCommands,
  keepPorts,
  parseCniRequest,
  RecordingRunner,
  type RoutedVethRecord,
  recordContent,
  recordPath,
  statePaths,
} from '@guestnet/host-agent';
import { AgentError } from '@guestnet/protocol';
import { BARE_HOST, GONE } from '../../../fixtures/bare-host.js';
import { sampleRecord } from '../../../fixtures/records.js';

// The CNI plugin's commands over the attachment service: ADD refuses a netns
// that is missing or the host's own before anything, answers in the
// runtime's CNI version, and takes back the ports a DEL kept for its netns;
// DEL is idempotent and leaves no dir of ours; GC removes only its network's
// attachments the runtime no longer knows. A container's netns is stood for
// by a file (its inode is the identity guestnet keeps); the host side's
// attach is the test's.

const config = { cniVersion: '1.0.0', name: 'podman', type: 'guestnet', pool: '10.203.0.0/16', gateway: '10.203.0.1' };
const cniCode = (code: number) => (e: unknown) => e instanceof AgentError && (e as AgentError & { cniCode: number }).cniCode === code;
const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };

describe('cni/commands: ADD, DEL and GC over the attachment service', () => {
  let stateDir: string;
  let netnsPath: string;
  let netns: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    netnsPath = join(stateDir, 'netns-c1');
    await writeFile(netnsPath, '');
    netns = `net:[${(await stat(netnsPath)).ino}]`;
  });
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  const requestFor = (path: string, cniVersion = '1.0.0') =>
    parseCniRequest(
      'ADD',
      { CNI_CONTAINERID: 'c0ffee', CNI_IFNAME: 'eth0', CNI_NETNS: path, GUESTNET_STATE_DIR: stateDir },
      { ...config, cniVersion },
    );
  const recordOf = (overrides: Partial<RoutedVethRecord> = {}) =>
    sampleRecord({
      id: 'cni-c0ffee-eth0',
      netnsPath,
      netns,
      cni: { containerId: 'c0ffee', ifname: 'eth0', network: 'podman' },
      ...overrides,
    });
  /** An attach that records what it was asked and answers with `record`. */
  const attachAs = (record: RoutedVethRecord, asked: unknown[] = []) =>
    (async (request: unknown) => {
      asked.push(request);
      return { record };
    }) as unknown as CniDaemon['attach'];
  const withHostMac = () => new RecordingRunner({ 'ip -j link show dev vm_wlan': JSON.stringify([{ address: '02:00:00:00:00:01' }]) });
  const service = (runner = new RecordingRunner(BARE_HOST)) => new AttachmentService(stateDir, runner);
  /** A daemon that runs the ADD with `attach`, and serves nothing after it. */
  const daemonOf = (svc: AttachmentService, attach: CniDaemon['attach']): CniDaemon => ({ service: svc, attach, serve: async () => {} });

  it("refuses a netns that does not exist, or the host's own, before anything else (CNI code 3)", async () => {
    for (const path of [join(stateDir, 'no-such-netns'), '/proc/self/ns/net']) {
      const asked: unknown[] = [];
      const runner = new RecordingRunner();
      await assert.rejects(cniCommands.add(requestFor(path), runner, daemonOf(service(runner), attachAs(recordOf(), asked))), cniCode(3));
      assert.deepEqual([asked, runner.reads], [[], []], path);
    }
  });

  it("answers in the runtime's CNI version: 0.4.0 names each IP's version, 1.0.0 does not", async () => {
    const record = recordOf();
    const v1 = (await cniCommands.add(requestFor(netnsPath), withHostMac(), daemonOf(service(), attachAs(record)))) as Record<
      string,
      unknown
    >;
    assert.deepEqual(v1, {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'vm_wlan', mac: '02:00:00:00:00:01' },
        { name: 'vm_wlan0', mac: record.guestMac, sandbox: netnsPath },
      ],
      ips: [{ address: '172.17.3.3/16', gateway: '172.17.3.2', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '172.17.3.2' }],
      dns: { nameservers: ['192.0.2.53'] },
    });
    const v04 = (await cniCommands.add(requestFor(netnsPath, '0.4.0'), withHostMac(), daemonOf(service(), attachAs(record)))) as {
      ips: Array<{ version?: string }>;
    };
    assert.deepEqual(
      v04.ips.map((ip) => ip.version),
      ['4'],
    );
  });

  it('gives a guest with IPv6 its address and default route in the result', async () => {
    const ipv6 = { mode: 'nat' as const, guestAddress: 'fd00:1::ac11:303', prefixLength: 64, hostAddress: 'fd00:1::1', uplink: 'wlan0' };
    const result = (await cniCommands.add(requestFor(netnsPath), withHostMac(), daemonOf(service(), attachAs(recordOf({ ipv6 }))))) as {
      ips: unknown[];
      routes: unknown[];
    };
    assert.deepEqual(result.ips[1], { address: 'fd00:1::ac11:303/64', gateway: 'fd00:1::1', interface: 1 });
    assert.deepEqual(result.routes[1], { dst: '::/0', gw: 'fd00:1::1' });
  });

  it('takes back, on an ADD that names no ports, the ports a DEL kept for the same netns, and forgets the note', async () => {
    await keepPorts(stateDir, recordOf({ forwards: [adb] }));
    const asked: Array<{ extras: { forwards?: unknown } }> = [];
    await cniCommands.add(requestFor(netnsPath), withHostMac(), daemonOf(service(), attachAs(recordOf(), asked)));
    assert.deepEqual(asked[0]?.extras.forwards, [adb]);
    await cniCommands.add(requestFor(netnsPath), withHostMac(), daemonOf(service(), attachAs(recordOf(), asked)));
    assert.equal(asked[1]?.extras.forwards, undefined, 'the note went with the first ADD');
  });

  it('takes a DEL of an attachment that never was as done, and leaves no dir of ours', async () => {
    await cniCommands.del({ containerId: 'c0ffee', ifname: 'eth0' }, service());
    await cniCommands.del({ containerId: 'c0ffee', ifname: 'eth0' }, service());
    assert.equal(existsSync(statePaths(stateDir).attachments), false);
  });

  it("garbage-collects only its own network's attachments that the runtime no longer knows", async () => {
    const container = (id: string, network: string) =>
      sampleRecord({
        id: `cni-${id}-eth0`,
        pid: undefined,
        hostIf: `vm_cover_${id}`,
        cni: { containerId: id, ifname: 'eth0', network },
        ...GONE,
      });
    const records = [container('stale', 'podman'), container('valid', 'podman'), container('theirs', 'other')];
    await mkdir(statePaths(stateDir).attachments, { recursive: true });
    for (const record of records) await writeFile(recordPath(stateDir, record.id), recordContent(record));
    const runner = new RecordingRunner(BARE_HOST);
    const removed = await cniCommands.gc('podman', new Set(['cni-valid-eth0']), service(runner));
    assert.deepEqual(removed, ['cni-stale-eth0']);
    const forgotten = runner.steps.flatMap((s) => (s.kind === 'remove' && s.path.endsWith('.json') ? [s.path] : []));
    assert.deepEqual(forgotten, [recordPath(stateDir, 'cni-stale-eth0')]);
  });
});
