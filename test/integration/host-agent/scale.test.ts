import assert from 'node:assert/strict';
import { callDaemon } from '@guestnet/host-agent';
import { type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

const GUESTS = 200;

const ms = (times: number[]) => times.map((t) => t.toFixed(0)).join(' ');

/** Rules in the agent's own iptables chains: what a packet may walk; apart, each guest's own source checks. */
async function iptablesRules(sandbox: Sandbox): Promise<{ shared: number; sourceChecks: number }> {
  const saved = (await sandbox.host(['iptables-save'])).stdout.split('\n').filter((line) => line.startsWith('-A GUESTNET-'));
  const sourceCheck = /^-A GUESTNET-SOURCES -s \S+\/32 (-i \S+ -j RETURN|-j DROP)$/;
  return {
    shared: saved.filter((line) => !sourceCheck.test(line)).length,
    sourceChecks: saved.filter((line) => sourceCheck.test(line)).length,
  };
}

// A benchmark, not a timed assertion: it prints the first and last ten attach
// and detach times. What it asserts is structure: every guest is attached, and
// with iptables the rules grow with the guests only by each one's two source
// checks, which only packets from guest links or with a pool source walk.
for (const firewall of ['nftables', 'iptables'] as const)
  describe(`${GUESTS} guests attached with --no-wait through the daemon (${firewall})`, function () {
    this.timeout(300_000);
    let sandbox: Sandbox;
    let pristine: string;
    const guests: Guest[] = [];
    const attach = (guest: Guest) => callDaemon(sandbox.stateDir, { type: 'attach', pid: guest.pid, settings: {}, wait: false }, 60_000);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      pristine = await sandbox.hostSnapshot();
      await sandbox.startDaemon();
      for (let i = 0; i < GUESTS - 1; i++) guests.push(await sandbox.startGuest({ agent: false }));
      // The last one runs a real agent, to show the 200th guest gets online like the first.
      guests.push(await sandbox.startGuest());
    });
    after(async () => sandbox?.destroy());

    it(`attaches ${GUESTS} guests one after another`, async () => {
      const times: number[] = [];
      let rulesAfterFirst = { shared: 0, sourceChecks: 0 };
      for (const guest of guests) {
        const started = performance.now();
        const reply = await attach(guest);
        times.push(performance.now() - started);
        assert.ok(reply.served, 'the daemon did not answer');
        if (times.length === 1 && firewall === 'iptables') rulesAfterFirst = await iptablesRules(sandbox);
      }
      console.log(`      attach ms, first 10: ${ms(times.slice(0, 10))}; last 10: ${ms(times.slice(-10))}`);
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests;
      assert.equal(status.length, GUESTS);
      assert.equal(new Set(status.map((g: { address: string }) => g.address)).size, GUESTS);
      if (firewall === 'iptables')
        assert.deepEqual(
          await iptablesRules(sandbox),
          { shared: rulesAfterFirst.shared, sourceChecks: 2 * GUESTS },
          'the rules grew with the guests beyond their source checks',
        );
    });

    it(`guest ${GUESTS} is online through NAT`, async () => {
      let seen = '';
      for (let i = 0; i < 50 && seen !== UPLINK.hostAddress; i++) {
        seen = (await sandbox.fetchFromGuest(guests.at(-1) as Guest, 500)).stdout.trim();
        if (seen !== UPLINK.hostAddress) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(seen, UPLINK.hostAddress);
    });

    it(`detaches all ${GUESTS}, leaving the host as it was`, async () => {
      const times: number[] = [];
      for (const guest of guests) {
        const started = performance.now();
        await callDaemon(sandbox.stateDir, { type: 'detach', pid: guest.pid }, 60_000);
        times.push(performance.now() - started);
      }
      console.log(`      detach ms, first 10: ${ms(times.slice(0, 10))}; last 10: ${ms(times.slice(-10))}`);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
