import assert from 'node:assert/strict';
import { cniAttachmentOf, cniStateDirOf, cniValidAttachments, parseCniConfig, parseCniRequest } from '@guestnet/host-agent';
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

  it("answers with the spec's codes: version 1, config 2 and 7, environment 4, stdin 6", () => {
    assert.equal(cniCode(() => parseCniRequest('ADD', env, { ...config, cniVersion: '0.1.0' })), 1);
    assert.equal(cniCode(() => parseCniRequest('ADD', env, { ...config, hairpin: true })), 2);
    assert.equal(cniCode(() => parseCniRequest('ADD', env, { ...config, ipMasq: false })), 2);
    assert.equal(cniCode(() => parseCniRequest('ADD', env, { ...config, mtu: 10 })), 7);
    assert.equal(cniCode(() => parseCniRequest('ADD', { ...env, CNI_CONTAINERID: '../x' }, config)), 4);
    assert.equal(cniCode(() => parseCniRequest('ADD', { ...env, CNI_IFNAME: 'eth0; reboot' }, config)), 4);
    assert.equal(cniCode(() => parseCniRequest('ADD', { ...env, CNI_NETNS: 'relative' }, config)), 4);
    assert.equal(cniCode(() => parseCniRequest('ADD', { ...env, CNI_NETNS: '' }, config)), 4);
    assert.equal(cniCode(() => parseCniConfig('{')), 6);
    assert.equal(cniCode(() => parseCniConfig('[]')), 6);
  });

  it('keys DEL by container and interface alone, in the state dir of the environment', () => {
    assert.deepEqual(cniAttachmentOf({ ...env, CNI_NETNS: '' }), { containerId: 'abc123', ifname: 'eth0' });
    assert.equal(cniStateDirOf(env), '/run/gn-test');
    assert.equal(cniStateDirOf({}), '/run/guestnet/state');
    assert.equal(cniCode(() => cniAttachmentOf({ ...env, CNI_CONTAINERID: '../x' })), 4);
  });

  it('GC reads the valid attachments, and needs them', () => {
    const gc = { ...config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'abc123', ifname: 'eth0' }, { bogus: 1 }] };
    assert.deepEqual([...cniValidAttachments(gc)], ['cni-abc123-eth0']);
    assert.equal(cniCode(() => cniValidAttachments(config)), 7);
  });

  it('records the network name, which GC goes by', () => {
    assert.equal(parseCniRequest('ADD', env, config).network, 'guestnet');
  });
});
