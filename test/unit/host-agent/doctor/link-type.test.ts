import assert from 'node:assert/strict';
import { linkTypeCheck, RecordingRunner, resolveSettings, type Step } from '@guestnet/host-agent';
import { CommandFailedError } from '@guestnet/protocol';

class FailingRunner extends RecordingRunner {
  override async perform(step: Step): Promise<void> {
    await super.perform(step);
    throw new CommandFailedError(['unshare'], 'Error: Unknown device type.', 2);
  }
}

describe('doctor: the network type', () => {
  it('a routed veth needs nothing tried', async () => {
    const runner = new RecordingRunner();
    assert.deepEqual(await linkTypeCheck(resolveSettings({}, {}, 'none'), runner), [
      { check: 'network type', status: 'ok', detail: 'veth (routed)' },
    ]);
    assert.equal(runner.processes, 0);
  });

  it('tries a sublink type in a brand-new netns on a veth parent, and names the kernel option it lacks', async () => {
    const settings = resolveSettings({}, { type: 'vlan', link: 'lo', vlanId: '5' }, 'none');
    const works = new RecordingRunner();
    const found = await linkTypeCheck(settings, works);
    assert.deepEqual(works.steps, [
      {
        kind: 'run',
        argv: ['unshare', '--net', 'ip', '-batch', '-'],
        input: 'link add gnprobe0 type veth peer name gnprobe1\nlink add gnprobe2 link gnprobe0 type vlan id 5\n',
      },
    ]);
    assert.deepEqual(found, [
      { check: 'network type', status: 'ok', detail: 'vlan 5 on lo' },
      { check: 'network type', status: 'ok', detail: 'vlan links work' },
    ]);
    assert.deepEqual((await linkTypeCheck(settings, new FailingRunner()))[1], {
      check: 'network type',
      status: 'fail',
      detail: 'this kernel has no vlan links (CONFIG_VLAN_8021Q)',
      fix: 'load or build the vlan module, or choose another --type',
    });
  });

  it('fails a --link this host does not have', async () => {
    const settings = resolveSettings({}, { type: 'macvlan', link: 'gnnosuchlink' }, 'none');
    const found = await linkTypeCheck(settings, new RecordingRunner());
    assert.deepEqual(found.at(-1), {
      check: 'network type',
      status: 'fail',
      detail: '--link gnnosuchlink does not exist',
      fix: 'name an interface of this host (ip link)',
    });
  });
});
