import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { type Daemon, type Guest, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// On iptables a dhcp guest's checks need the u32 match (and mac and
// hashlimit). A kernel without xt_u32 must fail its attach with exit 17 and
// one line, and change nothing. This kernel has u32 built in, so its lack is
// made at the process boundary: an iptables-restore earlier on the daemon's
// PATH answers a restore that uses -m u32 as iptables-nft 1.8.9 answers on a
// kernel without xt_u32 (its warning, the failed line, exit 4), changing
// nothing, and hands every other restore to the real tool.

const LACKS_U32 = [
  'Warning: Extension u32 revision 0 not supported, missing kernel module?',
  'iptables-nft-restore v1.8.9 (nf_tables): ',
  'line 12: RULE_APPEND failed (No such file or directory): rule in chain GUESTNET-INPUT',
].join('\n');

describe('faults: a kernel without the u32 match (iptables)', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  let pristine: string;
  let dhcpGuest: Guest;
  let plainGuest: Guest;

  before(async () => {
    sandbox = await Sandbox.create('iptables');
    pristine = await sandbox.hostSnapshot();
    const bin = join(sandbox.dir, 'bin');
    await mkdir(bin);
    const real = (await sandbox.host(['sh', '-c', 'command -v iptables-restore'])).stdout.trim();
    assert.ok(real.startsWith('/'), 'iptables-restore not found');
    const wrapper = join(bin, 'iptables-restore');
    const script = [
      '#!/bin/sh',
      'input=$(cat)',
      `case "$input" in *'-m u32 '*) printf '%s\\n' '${LACKS_U32.split('\n').join("' '")}' >&2; exit 4;; esac`,
      `printf '%s\\n' "$input" | exec ${real} "$@"`,
      '',
    ].join('\n');
    await writeFile(wrapper, script);
    await chmod(wrapper, 0o755);
    daemon = await sandbox.startDaemon([], HOST_AGENT, { PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` });
    dhcpGuest = await sandbox.startGuest({ agent: false });
    plainGuest = await sandbox.startGuest();
  });
  after(async () => {
    await daemon?.stop();
    await sandbox?.destroy();
  });

  it("fails a dhcp guest's attach with exit 17 and one line naming the match, and changes nothing", async () => {
    const attached = await sandbox.hostAgent(['attach', String(dhcpGuest.pid), '--guest-name', 'eth0', '--guest-config', 'dhcp']);
    assert.equal(attached.exitCode, ExitCode.kernelFeature, attached.stderr);
    assert.equal(attached.stderr.trim().split('\n').length, 1, attached.stderr);
    assert.match(attached.stderr, /^host-agent: this kernel or iptables lacks the u32, mac or hashlimit match .*; nothing was changed$/m);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('still attaches and detaches a guest that needs no u32', async () => {
    const attached = await sandbox.hostAgent(['attach', String(plainGuest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.equal((await sandbox.hostAgent(['detach', String(plainGuest.pid)])).exitCode, 0);
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
