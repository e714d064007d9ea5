import assert from 'node:assert/strict';
import { oneTimeLinkIn } from '@guestnet/guest-agent';

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
});
