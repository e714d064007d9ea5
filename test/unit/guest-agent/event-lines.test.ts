import assert from 'node:assert/strict';
import { type IpState, onlyEchoes, parseEventLine } from '@guestnet/guest-agent';

// What `ip -o monitor link address route rule` printed in a guest while one
// `ip -batch` renamed its new link, set its MTU, and gave it addresses and
// default routes (shortened after each line's first fields). `ip` names the
// link in address and route lines by the name it had when the monitor began.
const APPLY_ECHOES = [
  '2: gnAbcdefghij01@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether ca:2f:34:40:0c:81',
  '2: wlan0@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether ca:2f:34:40:0c:81',
  '2: wlan0@if2: <BROADCAST,MULTICAST> mtu 1400 qdisc noop state DOWN group default \\    link/ether ca:2f:34:40:0c:81',
  '2: gnAbcdefghij01    inet 172.17.3.3/16 scope global wlan0\\       valid_lft forever preferred_lft forever',
  'local 172.17.3.3 dev gnAbcdefghij01 table local proto kernel scope host src 172.17.3.3 ',
  '2: wlan0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state DOWN group default \\    link/ether',
  '172.17.0.0/16 dev gnAbcdefghij01 proto kernel scope link src 172.17.3.3 ',
  'broadcast 172.17.255.255 dev gnAbcdefghij01 table local proto kernel scope link src 172.17.3.3 ',
  'multicast ff00::/8 dev gnAbcdefghij01 table local proto kernel metric 256 pref medium',
  'fe80::/64 dev gnAbcdefghij01 proto kernel metric 256 pref medium',
  '2: wlan0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP group default \\    link/ether',
  'default via 172.17.3.2 dev gnAbcdefghij01 ',
  '2001:db8:1::/64 dev gnAbcdefghij01 proto kernel metric 256 pref medium',
  'default via 2001:db8:1::2 dev gnAbcdefghij01 metric 1024 pref medium',
  '2: gnAbcdefghij01    inet6 2001:db8:1::3/64 scope global nodad \\       valid_lft forever preferred_lft forever',
  '2: wlan0    inet6 fe80::1075:ccff:fea8:7eb4/64 scope link \\       valid_lft forever preferred_lft forever',
];

// What the same batch then read back.
const READ_BACK: IpState = {
  links: [
    { name: 'lo', index: 1, alias: undefined, mtu: 65536, up: false, addresses: [], addresses6: [] },
    {
      name: 'wlan0',
      index: 2,
      alias: 'guestnet:x',
      mtu: 1400,
      up: true,
      addresses: ['172.17.3.3/16'],
      addresses6: ['2001:db8:1::3/64'],
    },
  ],
  defaultRoute: { gateway: '172.17.3.2', dev: 'wlan0' },
  defaultRoute6: { gateway: '2001:db8:1::2', dev: 'wlan0' },
  rules6: { mainRulePriority: 32766, terminalRulePriority: undefined },
  mainRulePriority: 32766,
  terminalRulePriority: undefined,
};

const IPV4_ONLY: IpState = {
  ...READ_BACK,
  links: READ_BACK.links.map(({ addresses6: _, ...link }) => link),
  defaultRoute6: undefined,
  rules6: undefined,
};

describe('guest event lines', () => {
  it('reads links, addresses by link index, default routes, and deletions from ip -o monitor lines', () => {
    assert.deepEqual(parseEventLine(APPLY_ECHOES[2] ?? ''), {
      kind: 'link',
      deleted: false,
      index: 2,
      name: 'wlan0',
      up: false,
      mtu: 1400,
    });
    assert.deepEqual(parseEventLine(`Deleted ${APPLY_ECHOES[3]}`), {
      kind: 'address',
      deleted: true,
      index: 2,
      family: 4,
      cidr: '172.17.3.3/16',
      global: true,
    });
    assert.deepEqual(parseEventLine('3: eth0    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\\ valid_lft forever'), {
      kind: 'address',
      deleted: false,
      index: 3,
      family: 4,
      cidr: '10.0.0.2/24',
      global: true,
    });
    assert.deepEqual(parseEventLine(APPLY_ECHOES[13] ?? ''), {
      kind: 'default route',
      deleted: false,
      family: 6,
      gateway: '2001:db8:1::2',
      dev: 'gnAbcdefghij01',
    });
    assert.deepEqual(parseEventLine(APPLY_ECHOES[6] ?? ''), { kind: 'other route' });
  });

  it('knows rules, default routes of other tables, and what it cannot read as changes only a look can tell', () => {
    for (const line of [
      '100:\tfrom all lookup main',
      'default via 10.0.0.1 dev eth0 table 100',
      'default dev eth0 scope link',
      '',
      '5: eth0 nonsense',
    ])
      assert.deepEqual(parseEventLine(line), { kind: 'unknown' }, line);
  });

  it("finds an apply's own events, arriving after its read-back, echoes of what it read", () => {
    assert.equal(onlyEchoes(APPLY_ECHOES, READ_BACK), true);
    assert.equal(onlyEchoes(APPLY_ECHOES.slice(0, 12), IPV4_ONLY), true, 'IPv6 not read is not looked at');
  });

  it('finds any change the read-back did not show no echo: a look must see it', () => {
    const drifts = [
      '2: wlan0@if2: <BROADCAST,MULTICAST> mtu 1400 qdisc noqueue state DOWN group default',
      '2: wlan0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default',
      '2: eth9@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP group default',
      'Deleted 2: wlan0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP group default',
      '7: gnZz0123456789a@if6: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default',
      'Deleted 2: wlan0    inet 172.17.3.3/16 scope global wlan0\\ valid_lft forever',
      '2: wlan0    inet 192.0.2.9/24 scope global wlan0\\ valid_lft forever',
      '2: wlan0    inet6 2001:db8:9::9/64 scope global \\ valid_lft forever',
      'Deleted default via 172.17.3.2 dev wlan0 ',
      'default via 172.17.3.9 dev wlan0 ',
      'Deleted default via 2001:db8:1::2 dev wlan0 metric 1024 pref medium',
      '100:\tfrom all lookup main',
    ];
    for (const drift of drifts) assert.equal(onlyEchoes([...APPLY_ECHOES, drift], READ_BACK), false, drift);
    assert.equal(onlyEchoes([...APPLY_ECHOES, undefined], READ_BACK), false, 'a monitor restart');
  });

  it("judges each thing by its last event: an apply's passing states are no drift, a later undoing is", () => {
    const readd = [
      'Deleted 2: wlan0    inet 172.17.3.3/16 scope global wlan0\\ x',
      '2: wlan0    inet 172.17.3.3/16 scope global wlan0\\ x',
    ];
    assert.equal(onlyEchoes(readd, READ_BACK), true);
    assert.equal(onlyEchoes([...readd].reverse(), READ_BACK), false);
  });
});
