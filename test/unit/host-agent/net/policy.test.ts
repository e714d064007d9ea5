import assert from 'node:assert/strict';
import { observePolicy } from '@guestnet/host-agent';

// What `ip -4 -j` printed in a netns set up as netd does: a default route in table 1003 (with an MTU),
// one in main, netd's rule for the host's own traffic, a guest's rule and its route in table 97.
const OUTPUT: Record<string, string> = {
  'route show table all default': JSON.stringify([
    { dst: 'default', gateway: '192.0.2.1', dev: 'wlan0', table: '1003', flags: [], metrics: [{ mtu: 1400 }] },
    { dst: 'default', gateway: '192.0.2.1', dev: 'wlan0', metric: 50, flags: [] },
  ]),
  'rule show': JSON.stringify([
    { priority: 0, src: 'all', table: 'local' },
    { priority: 10000, src: 'all', fwmark: '0', fwmask: '0xffff', iif: 'lo', table: '1003' },
    { priority: 21000, src: 'all', iif: 'vm_wlan0', table: '1003' },
    { priority: 32766, src: 'all', table: 'main' },
  ]),
  'route show table 97': JSON.stringify([{ dst: '172.17.3.3', dev: 'vm_wlan0', scope: 'link', flags: [] }]),
};

class Reader {
  readonly asked: string[] = [];
  constructor(private readonly failing: RegExp = /$^/) {}
  async read(argv: string[]): Promise<string> {
    const command = argv.slice(3).join(' ');
    this.asked.push(argv.slice(1).join(' '));
    if (this.failing.test(argv.join(' '))) throw new Error('Error: ipv6 is disabled');
    return OUTPUT[command] ?? '[]';
  }
  /** The host model's queries are read as their commands. */
  query(query: { argv: readonly string[] }): Promise<string> {
    return this.read([...query.argv]);
  }
}

describe('observing policy routing', () => {
  it('reads default routes of every table with their metric and MTU, the rules and table 97', async () => {
    const policy = await observePolicy(new Reader(), true);
    assert.deepEqual(policy.defaults, [
      { dev: 'wlan0', table: '1003', mtu: 1400 },
      { dev: 'wlan0', table: 'main', metric: 50 },
    ]);
    assert.equal(policy.rules.length, 4);
    assert.deepEqual([...policy.localNetwork], ['172.17.3.3 vm_wlan0']);
  });

  it('a narrow look reads only the default routes; IPv6 is read only when asked, and a failing IPv6 read is none', async () => {
    const narrow = new Reader();
    const policy = await observePolicy(narrow, false);
    assert.deepEqual(narrow.asked, ['-4 -j route show table all default']);
    assert.deepEqual([policy.rules, policy.localNetwork.size], [[], 0]);
    const deep6 = new Reader(/ -6 /);
    const with6 = await observePolicy(deep6, true, true);
    assert.equal(deep6.asked.filter((a) => a.startsWith('-6')).length, 2);
    assert.deepEqual([with6.rules6, with6.localNetwork6?.size], [[], 0]);
  });
});
