import assert from 'node:assert/strict';
import { type GuestLink, OurLink } from '@guestnet/guest-agent';

const T1 = `guestnet:${'1'.repeat(32)}`;
const T2 = `guestnet:${'2'.repeat(32)}`;
const T3 = `guestnet:${'3'.repeat(32)}`;
const link = (name: string, index: number, alias?: string): GuestLink => ({ name, index, alias, mtu: 1500, up: true, addresses: [] });

describe('OurLink: the guest follows its link through a new token', () => {
  it('takes up the token the host wrote into the link it configured, and follows it back from older ones', () => {
    const ours = new OurLink();
    ours.applied({ links: [link('wlan0', 7, T1)] }, T1);
    assert.equal(ours.newTokenIn({ links: [link('wlan0', 7, T1)] }, T1), undefined, 'nothing new');
    assert.equal(ours.newTokenIn({ links: [link('wlan0', 7, T2)] }, T1), T2);
    ours.rotated(T1, T2);
    assert.equal(ours.newTokenIn({ links: [link('wlan0', 7, T3)] }, T2), T3);
    ours.rotated(T2, T3);
    assert.equal(ours.follow(T1), T3, 'a session that began under T1 still finds its link');
    assert.equal(ours.follow(T2), T3);
    assert.equal(ours.follow(T3), T3);
  });

  it('takes no token from another link, from a link with none, or before it configured anything', () => {
    const ours = new OurLink();
    assert.equal(ours.newTokenIn({ links: [link('wlan0', 7, T2)] }, T1), undefined, 'nothing configured yet');
    ours.applied({ links: [link('wlan0', 7, T1)] }, T1);
    assert.equal(ours.newTokenIn({ links: [link('eth1', 8, T2)] }, T1), undefined, 'another ifindex');
    assert.equal(ours.newTokenIn({ links: [link('wlan0', 7, 'not a token')] }, T1), undefined, 'no token on it');
    assert.equal(ours.newTokenIn({ links: [] }, T1), undefined, 'the link is gone');
  });
});
