import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addLan, LAN } from '../../fixtures/lan.js';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// Attack on the first-name token (def8fc0 and before it): a macvlan (or
// ipvlan, vlan, phys) guest's link arrives under its one-time name, its token
// until the rotation. Through the daemon the attach's reply, with its steps,
// goes out before the daemon rotates; the launcher prints it, to its own log
// or journal. The routed and bridged steps show "<one-time-name>"; the
// step that makes a sublink named the name itself.

async function firstNameOf(sandbox: Sandbox, guest: Guest): Promise<string> {
  const dir = join(sandbox.stateDir, 'attachments');
  const [file] = (await readdir(dir)).filter((name) => name.startsWith(`${guest.pid}.`));
  return (JSON.parse(await readFile(join(dir, file as string), 'utf8')) as { guestIf: string }).guestIf;
}

describe("faults: an attach's output never shows a macvlan guest's one-time name", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
  });
  after(async () => sandbox?.destroy());

  const MACVLAN = ['--type', 'macvlan', '--link', 'eth1', '--pool', LAN.subnet, '--gateway', LAN.router];

  for (const through of ['the daemon', 'a one-shot attach'])
    it(`through ${through}, text and --json`, async () => {
      const daemon = through === 'the daemon' ? await sandbox.startDaemon() : undefined;
      const base = daemon ? 60 : 70;
      const printed: string[] = [];
      for (const [n, json] of [
        [base + 1, []],
        [base + 2, ['--json']],
      ] as const) {
        const guest = await sandbox.startGuest();
        const attached = await sandbox.hostAgent(['attach', String(guest.pid), ...MACVLAN, '--guest-address', `192.168.77.${n}`, ...json]);
        assert.equal(attached.exitCode, 0, attached.stderr);
        const name = await firstNameOf(sandbox, guest);
        assert.match(name, /^gn[A-Za-z0-9]{13}$/, 'precondition: the link arrived under a one-time name');
        if (`${attached.stdout}\n${attached.stderr}`.includes(name)) printed.push(`${json.join('') || 'text'}:\n${attached.stdout}`);
        assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
        await guest.kill();
      }
      await daemon?.stop();
      assert.deepEqual(printed, [], 'the attach printed the one-time name');
    });
});
