import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { linkIdOf } from '@guestnet/protocol';
import { type Guest, Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

describe('host-agent serve: a guest gets and changes only its own attachment', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let victim: Guest;
  let victimToken: string;

  const tokenOf = async (pid: number): Promise<string> =>
    JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${pid}.json`), 'utf8')).token;
  // Without the traffic counters: they move with every packet, not with the attachment.
  const victimStatus = async () => {
    const { fromGuest, toGuest, ...rest } = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.find(
      (g: { pid: number }) => g.pid === victim.pid,
    );
    return rest;
  };

  const rawGuest = (guest: Guest, claim: string, after: unknown[] = []) => sandbox.rawGuest(guest, claim, after);

  before(async () => {
    sandbox = await Sandbox.create();
    await sandbox.startDaemon();
    victim = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(victim.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    // The token the victim keeps: a one-time first name is rotated once the guest is configured (faults/token-kmsg).
    const started = Date.now();
    victimToken = await tokenOf(victim.pid);
    while (victimToken.startsWith('guestnet:gn') && Date.now() - started < SETTLE_GUARD_MS) {
      await new Promise((r) => setTimeout(r, 50));
      victimToken = await tokenOf(victim.pid);
    }
    assert.match(victimToken, /^guestnet:[0-9a-f]{32}$/);
  });
  after(async () => sandbox?.destroy());

  it("a process in another netns cannot read the victim's token; the victim's own netns can", async () => {
    const stranger = await sandbox.startGuest({ agent: false });
    assert.doesNotMatch((await stranger.exec(['ip', '-d', 'link', 'show'])).stdout, /guestnet:/);
    assert.match((await victim.exec(['ip', '-d', 'link', 'show', 'wlan0'])).stdout, new RegExp(`alias ${victimToken}`));
  });

  it('a hello with a forged token, or with none, gets an error and nothing of the victim', async () => {
    const stranger = await sandbox.startGuest({ agent: false });
    for (const claim of [`guestnet:${randomBytes(16).toString('hex')}`, '']) {
      const frames = await rawGuest(stranger, claim);
      assert.deepEqual(frames, [{ type: 'error', code: 'unknownLink', message: 'none of your links is attached here' }, 'closed']);
    }
  });

  it("an attached guest that sends an applied for the victim's link is cut off; the victim is untouched", async () => {
    const before = await victimStatus();
    const attacker = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(attacker.pid), '--no-wait'])).exitCode, 0);
    const state = { name: 'wlan0', mtu: 1500, address: '172.17.3.99', prefixLength: 16, gateway: '172.17.3.2', dns: [] };
    const forged = { type: 'applied', id: linkIdOf(victimToken), seq: 1, ok: true, changes: 0, state, mac: 'b'.repeat(64) };
    const frames = await rawGuest(attacker, 'own', [{ type: 'ping', seq: 7 }, forged]);
    assert.deepEqual(
      frames.slice(0, 2).map((f) => (f as Record<string, unknown>).type),
      ['challenge', 'configure'],
    );
    assert.equal((frames[1] as Record<string, unknown>).id, linkIdOf(await tokenOf(attacker.pid)));
    assert.deepEqual(frames.slice(2), [
      { type: 'pong', seq: 7 },
      { type: 'error', code: 'guestProtocol', message: 'unexpected applied from the guest' },
      'closed',
    ]);
    assert.doesNotMatch(JSON.stringify(frames), /guestnet:/, 'a token crossed the socket');
    const after = await victimStatus();
    assert.deepEqual(after, before, "the victim's attachment changed");
    assert.equal(after.agent, 'connected', "the victim's agent lost its session");
    assert.equal((await sandbox.fetchFromGuest(victim)).stdout.trim(), UPLINK.hostAddress);
  });

  it('a detach tells the connected guest agent to release its configuration, then closes', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    const token = await tokenOf(guest.pid);
    const session = rawGuest(guest, 'own');
    for (let i = 0; i < 100; i++) {
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.find(
        (g: { pid: number }) => g.pid === guest.pid,
      );
      if (status.agent === 'connected') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    const frames = await session;
    const [release, closed] = frames.slice(2) as [Record<string, unknown>, string];
    assert.deepEqual([release.type, release.id, closed], ['release', linkIdOf(token), 'closed']);
  });
});
