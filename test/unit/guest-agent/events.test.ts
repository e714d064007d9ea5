import assert from 'node:assert/strict';
import { Arrivals, oneTimeLinkIn } from '@guestnet/guest-agent';

describe('guest link events', () => {
  it('reads a new link of a one-time name from an ip -o monitor line: index, MTU, whether it is up', () => {
    assert.deepEqual(
      oneTimeLinkIn('7: gnZz0123456789a@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc noqueue state UP group default'),
      {
        name: 'gnZz0123456789a',
        index: 7,
        alias: undefined,
        mtu: 9000,
        up: true,
        addresses: [],
      },
    );
    assert.equal(oneTimeLinkIn('7: gnZz0123456789a: <NO-CARRIER,BROADCAST,MULTICAST> mtu 1500 qdisc noop')?.up, false);
  });

  it('ignores links of other names, deletions, address and route lines', () => {
    assert.equal(oneTimeLinkIn('7: gnZz0123456789@if6: <BROADCAST> mtu 1500 qdisc noop'), undefined, 'one letter short');
    assert.equal(oneTimeLinkIn('Deleted 7: gnZz0123456789a@if6: <BROADCAST> mtu 1500 qdisc noop'), undefined);
    assert.equal(oneTimeLinkIn('default via 172.17.3.2 dev gnZz0123456789a'), undefined);
    assert.equal(oneTimeLinkIn(''), undefined);
  });

  describe('the arrivals since a look', () => {
    const moved =
      '4: gn25453b9924cc@if3: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group 26478 \\    link/ether 02:00:00:00:00:01';
    const renamed =
      '4: gnZz0123456789a@if3: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group 26478 \\    link/ether 02:00:00:00:00:01';

    const shown = (arrivals: Arrivals) => arrivals.only?.map((l) => [l.index, l.name]);

    it('a link made in the netns under its one-time name', () => {
      const arrivals = new Arrivals();
      arrivals.heard(renamed);
      assert.deepEqual(shown(arrivals), [[4, 'gnZz0123456789a']]);
    });

    it('a link moved in under another name and renamed in the same message (a macvlan, a NIC): one arrival', () => {
      const arrivals = new Arrivals();
      arrivals.heard(moved);
      assert.equal(shown(arrivals), undefined, 'not yet renamed: a look is needed');
      assert.equal(arrivals.renaming, true, 'unless the rename comes');
      arrivals.heard(renamed);
      assert.deepEqual(shown(arrivals), [[4, 'gnZz0123456789a']]);
      assert.equal(arrivals.renaming, false);
    });

    it('anything else needs a look: another link, an address, a restart, the same link again, a rename to another link', () => {
      const after = (...lines: Array<string | undefined>) => {
        const arrivals = new Arrivals();
        for (const line of lines) arrivals.heard(line);
        return arrivals.only;
      };
      assert.equal(after(moved), undefined);
      assert.equal(after(moved, renamed.replace(/^4:/, '5:')), undefined, 'renamed under another index');
      assert.equal(after(moved, moved.replace('gn25453b9924cc', 'wlan1')), undefined, 'renamed to a name not ours');
      const notOurs = new Arrivals();
      for (const line of [moved, moved.replace('gn25453b9924cc', 'wlan1')]) notOurs.heard(line);
      assert.equal(notOurs.renaming, false, 'a rename came, and it was not to a one-time name: no other is awaited');
      assert.equal(after(renamed, '4: gnZz0123456789a: inet 192.168.77.82/24 scope global gnZz0123456789a'), undefined);
      assert.equal(after(renamed, renamed), undefined);
      assert.equal(after(renamed, undefined), undefined);
      assert.equal(after(renamed, 'Deleted 4: gn25453b9924cc@if3: <BROADCAST> mtu 1500 qdisc noop'), undefined);
      const looked = new Arrivals();
      looked.heard(undefined);
      looked.reset();
      assert.deepEqual(looked.only, [], 'a look starts afresh');
    });
  });
});
