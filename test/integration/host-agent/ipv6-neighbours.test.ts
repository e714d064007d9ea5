import assert from 'node:assert/strict';
import { hostGlobalAddress, startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { neighboursAmong, solicitFrom } from '../../fixtures/rogue-guest.js';
import { FIREWALLS, type Guest, Sandbox } from '../../fixtures/sandbox.js';

// Each neighbour solicitation the host accepts can make it a neighbour entry,
// in a table the whole machine shares (gc_thresh3 is 1024). From a guest the
// host accepts neighbour discovery only from the guest's own address, a
// link-local one or the unspecified one, and only at a rate per link.

/** The limit per guest link, as the firewall sets it: 10 a second after a burst of 20. */
const ND_RATE = { perSecond: 10, burst: 20 };

for (const firewall of FIREWALLS)
  describe(`neighbour discovery from a guest, from addresses that are not its own (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let guest: Guest;
    let hostIf: string;
    let gateway: string;
    let prefix: string;
    let hostAddress: string;
    const madeUp = (base: string) => Array.from({ length: 200 }, (_, i) => `${base}dead:${(i + 1).toString(16)}`);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      hostAddress = await startRaUplink(sandbox);
      guest = await sandbox.startGuest();
      const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const [status] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as Array<{
        hostIf: string;
        ipv6: { address: string; gateway: string };
      }>;
      hostIf = status?.hostIf ?? '';
      gateway = status?.ipv6.gateway ?? '';
      prefix = (status?.ipv6.address ?? '').replace(/::[^:]*:[^:]*$/, '::');
    });
    after(async () => sandbox?.destroy());

    it('200 solicitations from addresses of its prefix that are not its own give the host no neighbour entry', async () => {
      const sources = madeUp(prefix);
      await solicitFrom(guest, gateway, sources);
      assert.deepEqual(await neighboursAmong(sandbox, hostIf, sources), []);
    });

    it('200 from made-up link-local addresses give it at most what the rate lets through', async () => {
      const sources = madeUp('fe80::');
      const started = Date.now();
      await solicitFrom(guest, gateway, sources);
      const seconds = (Date.now() - started) / 1000;
      // A bound from the limit and how long the sending took, not a speed.
      const bound = ND_RATE.burst + Math.ceil(ND_RATE.perSecond * (seconds + 1));
      const entries = await neighboursAmong(sandbox, hostIf, sources);
      assert.ok(entries.length <= Math.min(bound, 199), `${entries.length} entries from 200 solicitations in ${seconds} s`);
    });

    it('the guest keeps its IPv6: its own neighbour discovery still passes', async () => {
      let seen = '';
      for (let i = 0; i < 20 && seen !== hostAddress; i++) seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
      assert.equal(seen, hostAddress);
      assert.equal(await hostGlobalAddress(sandbox), hostAddress);
    });
  });
