import assert from 'node:assert/strict';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { type Daemon, DNS, Sandbox, SERVER, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

// Where a daemon serves the state dir, the CNI plugin hands ADD, CHECK, DEL
// and GC to it: the daemon does the work (its log says so) and the plugin
// prints what it would have printed itself.

const CONFIG = { cniVersion: '1.1.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };

describe('CNI plugin with a daemon serving its state dir', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  let pristine: string;
  let container: string;
  const containerId = 'cafe0123456789abcdef';

  const plugin = (command: string, config: object = CONFIG) => runPlugin({ sandbox, container, containerId }, command, config);
  const served = (command: string) =>
    daemon
      .output()
      .split('\n')
      .filter((line) => line.includes(`"served CNI ${command}"`) && line.includes(containerId)).length;

  before(async () => {
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
    await execa('ip', ['netns', 'add', container]);
    pristine = await sandbox.hostSnapshot();
    daemon = await sandbox.startDaemon();
  });
  after(async () => {
    await execa('ip', ['netns', 'del', container], { reject: false });
    await sandbox?.destroy();
  });

  it('ADD is done by the daemon: the spec result, the container online, the daemon knows it', async () => {
    const run = await plugin('ADD');
    assert.equal(run.exitCode, 0, run.stdout);
    const result = run.json as { ips: unknown[]; interfaces: Array<{ name: string }> };
    assert.deepEqual(result.ips, [{ address: '172.17.3.3/16', gateway: '172.17.3.2', interface: 1 }]);
    assert.equal(result.interfaces[1]?.name, 'eth0');
    assert.equal(served('ADD'), 1, daemon.output());
    const fetched = await execa('ip', ['netns', 'exec', container, 'node', '-e', tcpClientScript(SERVER.address, SERVER.port)], {
      reject: false,
    });
    assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as { guests: Array<{ id: string }> };
    assert.deepEqual(
      status.guests.map((g) => g.id),
      [`cni-${containerId}-eth0`],
    );
  });

  it('CHECK passes through the daemon, and a refusal comes back as the spec error', async () => {
    const run = await plugin('CHECK');
    assert.equal(run.exitCode, 0, run.stdout);
    assert.equal(served('CHECK'), 1);
    const other = await runPlugin({ sandbox, container, containerId: 'beef0123' }, 'CHECK', CONFIG);
    assert.equal(other.exitCode, 1);
    assert.equal((other.json as { code: number }).code, 100, other.stdout);
    assert.match(daemon.output(), /"CNI request failed"/);
  });

  it('DEL and GC are done by the daemon, and leave the host as it was', async () => {
    const del = await plugin('DEL');
    assert.equal(del.exitCode, 0, del.stdout);
    assert.equal(served('DEL'), 1);
    const gc = await plugin('GC', { ...CONFIG, 'cni.dev/valid-attachments': [] } as object);
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.match(daemon.output(), /"served CNI GC"/);
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
