import assert from 'node:assert/strict';
import {
  cniAttachmentOf,
  cniReplyVersion,
  cniStateDirOf,
  cniValidAttachments,
  parseCniConfig,
  parseCniRequest,
  parseCniStatus,
} from '@guestnet/host-agent';
import { AgentError } from '@guestnet/protocol';

const env = { CNI_CONTAINERID: 'abc123', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/c1', GUESTNET_STATE_DIR: '/run/gn-test' };
const config = { cniVersion: '1.0.0', name: 'guestnet', type: 'guestnet', pool: '10.203.0.0/16', gateway: '10.203.0.1' };
const cniCode = (fn: () => unknown): number => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AgentError);
    return (error as AgentError & { cniCode: number }).cniCode;
  }
  return 0;
};

describe('CNI requests', () => {
  it('takes the link names from the runtime and the rest from the network config', () => {
    const request = parseCniRequest('ADD', env, config);
    assert.equal(request.containerId, 'abc123');
    assert.equal(request.settings.guestIf, 'eth0');
    assert.equal(request.settings.guestName, 'eth0');
    assert.equal(request.settings.pool, '10.203.0.0/16');
    assert.equal(request.settings.stateDir, '/run/gn-test');
  });

  it('takes guestConfig "dhcp", "host" or "agent"; without it the plugin configures the container from the host, as always', () => {
    assert.equal(parseCniRequest('ADD', env, config).settings.guestConfig, 'host');
    for (const guestConfig of ['dhcp', 'host', 'agent'])
      assert.equal(parseCniRequest('ADD', env, { ...config, guestConfig }).settings.guestConfig, guestConfig);
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, { ...config, guestConfig: 'radio' })),
      7,
    );
    assert.throws(() => parseCniRequest('ADD', env, { ...config, guestConfig: 'radio' }), /key 'guestConfig' must be one of/);
  });

  it("answers with the spec's codes: version 1, config 2 and 7, environment 4, stdin 6", () => {
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, { ...config, cniVersion: '0.1.0' })),
      1,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, { ...config, hairpin: true })),
      2,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, { ...config, ipMasq: false })),
      2,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, { ...config, mtu: 10 })),
      7,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', { ...env, CNI_CONTAINERID: '../x' }, config)),
      4,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', { ...env, CNI_IFNAME: 'eth0; reboot' }, config)),
      4,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', { ...env, CNI_NETNS: 'relative' }, config)),
      4,
    );
    assert.equal(
      cniCode(() => parseCniRequest('ADD', { ...env, CNI_NETNS: '' }, config)),
      4,
    );
    assert.equal(
      cniCode(() => parseCniConfig('{')),
      6,
    );
    assert.equal(
      cniCode(() => parseCniConfig('[]')),
      6,
    );
  });

  it('keys DEL by container and interface alone, in the state dir of the environment', () => {
    assert.deepEqual(cniAttachmentOf({ ...env, CNI_NETNS: '' }), { containerId: 'abc123', ifname: 'eth0' });
    assert.equal(cniStateDirOf(env), '/run/gn-test');
    assert.equal(cniStateDirOf({}), '/run/guestnet/state');
    assert.equal(
      cniCode(() => cniAttachmentOf({ ...env, CNI_CONTAINERID: '../x' })),
      4,
    );
  });

  it('GC reads the valid attachments, and needs them', () => {
    const gc = { ...config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'abc123', ifname: 'eth0' }, { bogus: 1 }] };
    assert.deepEqual([...cniValidAttachments(gc)], ['cni-abc123-eth0']);
    assert.equal(
      cniCode(() => cniValidAttachments({ ...config, cniVersion: '1.1.0' })),
      7,
    );
  });

  it('takes GC and STATUS, which came with CNI 1.1.0, only with 1.1.0 configs: code 1 otherwise', () => {
    const gc = { ...config, 'cni.dev/valid-attachments': [] };
    for (const cniVersion of ['0.4.0', '1.0.0']) {
      assert.equal(
        cniCode(() => cniValidAttachments({ ...gc, cniVersion })),
        1,
      );
      assert.equal(
        cniCode(() => parseCniStatus({ ...config, cniVersion }, env)),
        1,
      );
    }
    assert.equal(cniValidAttachments({ ...gc, cniVersion: '1.1.0' }).size, 0);
    assert.equal(parseCniStatus({ ...config, cniVersion: '1.1.0' }, env).pool, '10.203.0.0/16');
  });

  it("replies in the request's cniVersion, errors too, and in 1.1.0 when the request names none it can read", () => {
    for (const cniVersion of ['0.4.0', '1.0.0', '1.1.0', '0.3.1']) assert.equal(cniReplyVersion({ cniVersion }), cniVersion);
    for (const request of [undefined, {}, { cniVersion: 1 }, { cniVersion: '1.0.0\n' }, { cniVersion: '\u202e1.0.0' }])
      assert.equal(cniReplyVersion(request), '1.1.0');
  });

  it("takes network names and container ids of the spec's characters only: code 7 and 4, in one printable line", () => {
    const failure = (fn: () => unknown): { cniCode: number; message: string } => {
      try {
        fn();
      } catch (error) {
        return error as { cniCode: number; message: string };
      }
      return { cniCode: 0, message: '' };
    };
    for (const name of ['gn\u202etest', 'gn\u0000test', '', '-gn', '.gn', 'gn/test', 'gn test', 'ü', 'x'.repeat(129), 42]) {
      const { cniCode: code, message } = failure(() => parseCniRequest('ADD', env, { ...config, name }));
      assert.equal(code, 7, String(name));
      assert.match(message, /^(network name '[\x20-\x7e]*' must be a letter or digit|the network config has no 'name')/);
      assert.doesNotMatch(message, /[^\x20-\x7e]/);
      assert.equal(
        cniCode(() => cniValidAttachments({ ...config, name, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] })),
        7,
      );
      assert.equal(
        cniCode(() => parseCniStatus({ ...config, name, cniVersion: '1.1.0' }, env)),
        7,
      );
    }
    const { name: _, ...nameless } = config;
    assert.equal(
      cniCode(() => parseCniRequest('ADD', env, nameless)),
      7,
    );
    assert.match(failure(() => parseCniRequest('ADD', env, { ...config, name: 'a\u202eb' })).message, /'a\\u202eb'/);
    for (const containerId of ['abc\u202e', 'abc\u0000', '_abc', 'a'.repeat(129)]) {
      const { cniCode: code, message } = failure(() => cniAttachmentOf({ ...env, CNI_CONTAINERID: containerId }));
      assert.equal(code, 4);
      assert.match(message, /^CNI_CONTAINERID '[\x20-\x7e]*' must be a letter or digit/);
    }
    for (const name of ['gn-test_1.0', 'A', 'x'.repeat(128)]) assert.equal(parseCniRequest('ADD', env, { ...config, name }).network, name);
    assert.equal(cniAttachmentOf({ ...env, CNI_CONTAINERID: 'a'.repeat(128) }).containerId, 'a'.repeat(128));
  });

  it('records the network name, which GC goes by', () => {
    assert.equal(parseCniRequest('ADD', env, config).network, 'guestnet');
  });

  it('takes a requested address and MAC from the capabilities, args.cni or CNI_ARGS, and published ports from portMappings', () => {
    const runtimeConfig = {
      ips: ['10.203.0.50/16'],
      mac: '02:AA:BB:CC:DD:EE',
      portMappings: [
        { hostPort: 8081, containerPort: 80, protocol: 'tcp', hostIP: '' },
        { hostPort: 5353, containerPort: 53, protocol: 'UDP' },
      ],
    };
    const request = parseCniRequest('ADD', env, { ...config, capabilities: { ips: true, mac: true, portMappings: true }, runtimeConfig });
    assert.equal(request.settings.guestAddress, '10.203.0.50');
    assert.equal(request.guestMac, '02:aa:bb:cc:dd:ee');
    assert.deepEqual(request.forwards, [
      { protocol: 'tcp', hostPort: 8081, guestPort: 80 },
      { protocol: 'udp', hostPort: 5353, guestPort: 53 },
    ]);
    const onOne = parseCniRequest('ADD', env, {
      ...config,
      runtimeConfig: { portMappings: [{ hostPort: 8081, containerPort: 80, hostIP: '198.51.100.2' }] },
    });
    assert.deepEqual(onOne.forwards, [{ protocol: 'tcp', hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' }]);
    const fromArgs = parseCniRequest('ADD', { ...env, CNI_ARGS: 'IgnoreUnknown=1;IP=10.203.0.60;MAC=02:00:00:00:00:01' }, config);
    assert.deepEqual([fromArgs.settings.guestAddress, fromArgs.guestMac, fromArgs.forwards], ['10.203.0.60', '02:00:00:00:00:01', []]);
    const plain = parseCniRequest('ADD', env, config);
    assert.deepEqual([plain.settings.guestAddress, plain.guestMac, plain.forwards], [undefined, undefined, []]);
  });

  it('refuses with code 7 an address outside the pool, an IPv6-only request, a multicast MAC, a bad port and an IPv6 hostIP', () => {
    const asking = (runtimeConfig: object) => cniCode(() => parseCniRequest('ADD', env, { ...config, runtimeConfig }));
    assert.equal(asking({ ips: ['192.0.2.9/24'] }), 7);
    assert.equal(asking({ ips: ['2001:db8::9/64'] }), 7);
    assert.equal(asking({ mac: '01:00:5e:00:00:01' }), 7);
    assert.equal(asking({ portMappings: [{ hostPort: 0, containerPort: 80 }] }), 7);
    assert.equal(asking({ portMappings: [{ hostPort: 8081, containerPort: 80, protocol: 'sctp' }] }), 7);
    assert.equal(asking({ portMappings: [{ hostPort: 8081, containerPort: 80, hostIP: '2001:db8::2' }] }), 7);
  });
});
