import assert from 'node:assert/strict';
import {
  assignmentOf,
  type DnsTarget,
  familyOf,
  type GuestObserved,
  type GuestOp,
  inverseOf,
  ipLinesOf,
  oneTimeLinkIn,
  planGuest,
  renderResolvConf,
  verifiedState,
  withArrivedLinks,
  withIp6State,
} from '@guestnet/guest-agent';
import { type GuestConfig, NameTakenError } from '@guestnet/protocol';

const token = `guestnet:${'d'.repeat(32)}`;
const RESOLV: DnsTarget = { kind: 'resolv.conf', path: '/etc/resolv.conf' };
const configure: GuestConfig = {
  token,
  link: { rename: 'wlan0', mtu: 1400, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
  dns: ['192.0.2.53'],
};
const fresh = (): GuestObserved => ({
  links: [
    { name: 'lo', alias: undefined, mtu: 65536, up: false, addresses: [] },
    { name: 'vm_wlan0', alias: token, mtu: 1500, up: false, addresses: [] },
  ],
  defaultRoute: undefined,
  mainRulePriority: 32766,
  terminalRulePriority: undefined,
  dnsFile: undefined,
});

/** The guest model after ops, for "plan after apply is empty". */
function simulate(observed: GuestObserved, ops: GuestOp[]): GuestObserved {
  let { links, defaultRoute, mainRulePriority } = structuredClone(observed);
  let dnsFile = observed.dnsFile;
  const link = (name: string) => links.find((l) => l.name === name)!;
  for (const op of ops) {
    if (op.kind === 'linkUp') link(op.name).up = true;
    if (op.kind === 'renameLink') Object.assign(link(op.from), { name: op.to, up: false });
    if (op.kind === 'setMtu') link(op.name).mtu = op.mtu;
    if (op.kind === 'setAlias') link(op.name).alias = op.alias || undefined;
    if (op.kind === 'addAddress') link(op.name).addresses.push(op.cidr);
    if (op.kind === 'setDefaultRoute') defaultRoute = { gateway: op.gateway, dev: op.dev };
    if (op.kind === 'writeDnsFile') dnsFile = Buffer.from(op.content);
    if (op.kind === 'addMainRule') mainRulePriority = op.priority;
  }
  return { ...observed, links, defaultRoute, mainRulePriority, dnsFile };
}

describe('guest planner', () => {
  it('plans the design for a freshly arrived link', () => {
    assert.deepEqual(planGuest(fresh(), configure, RESOLV), [
      { kind: 'linkUp', name: 'lo' },
      { kind: 'renameLink', from: 'vm_wlan0', to: 'wlan0' },
      { kind: 'setMtu', name: 'wlan0', mtu: 1400, before: 1500 },
      { kind: 'addAddress', name: 'wlan0', cidr: '172.17.3.3/16' },
      { kind: 'linkUp', name: 'wlan0' },
      { kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'wlan0', before: undefined },
      {
        kind: 'writeDnsFile',
        path: '/etc/resolv.conf',
        content: Buffer.from(renderResolvConf(['192.0.2.53'])),
        before: undefined,
        synced: false,
      },
    ]);
  });

  it('plans nothing once applied (running again is harmless)', () => {
    const after = simulate(fresh(), planGuest(fresh(), configure, RESOLV));
    assert.deepEqual(planGuest(after, configure, RESOLV), []);
  });

  it('repairs only what drifted, e.g. a deleted default route', () => {
    const after = simulate(fresh(), planGuest(fresh(), configure, RESOLV));
    const drifted = { ...after, defaultRoute: undefined };
    assert.deepEqual(planGuest(drifted, configure, RESOLV), [
      { kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'wlan0', before: undefined },
    ]);
  });

  it('finds its link by token, not by name', () => {
    const foreign = fresh();
    foreign.links[1]!.alias = `guestnet:${'e'.repeat(32)}`;
    assert.throws(() => planGuest(foreign, configure, RESOLV), /no link carries this attach's token/);
  });

  it('takes a link whose one-time name is its token, and writes the token into its alias', () => {
    const oneTime = { ...configure, token: 'guestnet:gnAbCdEf0123456', link: { ...configure.link, name: 'gnAbCdEf0123456' } };
    const observed = fresh();
    observed.links[1] = { name: 'gnAbCdEf0123456', alias: undefined, mtu: 1400, up: false, addresses: [] };
    const ops = planGuest(observed, oneTime, RESOLV);
    assert.deepEqual(ops.slice(1, 3), [
      { kind: 'renameLink', from: 'gnAbCdEf0123456', to: 'wlan0' },
      { kind: 'setAlias', name: 'wlan0', alias: 'guestnet:gnAbCdEf0123456', before: undefined },
    ]);
    assert.deepEqual(ops.flatMap(ipLinesOf).slice(1, 4), [
      'link set dev gnAbCdEf0123456 down',
      'link set dev gnAbCdEf0123456 name wlan0',
      'link set dev wlan0 alias "guestnet:gnAbCdEf0123456"',
    ]);
    assert.deepEqual(
      inverseOf(ops[2]!),
      { kind: 'setAlias', name: 'wlan0', alias: '', before: 'guestnet:gnAbCdEf0123456' },
      'undone, the alias is cleared',
    );
    // Renamed and tagged, a restarted agent finds it by its alias, and has nothing to do.
    assert.deepEqual(planGuest(simulate(observed, ops), oneTime, RESOLV), []);
  });

  it("sees a host's new pair in the link event alone, so the agent skips a look", () => {
    const line =
      '2: gnAbCdEf0123456@NONE: <BROADCAST,MULTICAST> mtu 1400 qdisc noop state DOWN group default \\    link/ether 02:00:00:00:00:07 brd ff:ff:ff:ff:ff:ff';
    const link = oneTimeLinkIn(line);
    assert.deepEqual(link, { name: 'gnAbCdEf0123456', index: 2, alias: undefined, mtu: 1400, up: false, addresses: [] });
    assert.equal(oneTimeLinkIn('2: wlan0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP'), undefined);
    assert.equal(oneTimeLinkIn('Deleted 2: gnAbCdEf0123456@NONE: <BROADCAST,MULTICAST> mtu 1400 qdisc noop'), undefined);
    assert.equal(oneTimeLinkIn('2: gnAbCdEf0123456    inet 10.198.0.2/16 scope global wlan0'), undefined);
    const merged = withArrivedLinks(fresh(), [link!]);
    assert.deepEqual(
      merged?.links.map((l) => l.name),
      ['lo', 'vm_wlan0', 'gnAbCdEf0123456'],
    );
    assert.equal(withArrivedLinks(merged!, [link!]), undefined, 'a link already seen has changed, not arrived: look');
    assert.equal(withArrivedLinks(fresh(), undefined), undefined, 'other events came: look');
  });

  it('refuses to take a name another link already has', () => {
    const observed = fresh();
    observed.links.push({ name: 'wlan0', alias: undefined, mtu: 1500, up: true, addresses: [] });
    assert.throws(() => planGuest(observed, configure, RESOLV), NameTakenError);
  });

  it('brings a link down to rename it, in one ip -batch with the rest', () => {
    const lines = planGuest(fresh(), configure, RESOLV).flatMap(ipLinesOf);
    assert.deepEqual(lines.slice(1, 3), ['link set dev vm_wlan0 down', 'link set dev vm_wlan0 name wlan0']);
  });

  it('has an inverse for every change it makes', () => {
    const ops = planGuest(fresh(), configure, RESOLV);
    assert.deepEqual(
      ops.map(inverseOf).map((op) => op?.kind),
      ['linkDown', 'renameLink', 'setMtu', 'deleteAddress', 'linkDown', 'deleteDefaultRoute', 'removeFile'],
    );
  });

  it('makes main reachable again after an Android netd flushed the rules', () => {
    const after = simulate(fresh(), planGuest(fresh(), configure, RESOLV));
    const flushed = { ...after, mainRulePriority: undefined, terminalRulePriority: 32000 };
    const ops = planGuest(flushed, configure, RESOLV);
    assert.deepEqual(ops, [{ kind: 'addMainRule', priority: 31999 }]);
    assert.deepEqual(ops.flatMap(ipLinesOf), ['rule add priority 31999 lookup main']);
    assert.deepEqual(planGuest(simulate(flushed, ops), configure, RESOLV), []);
    const bare = { ...after, mainRulePriority: undefined, terminalRulePriority: undefined };
    assert.deepEqual(planGuest(bare, configure, RESOLV), [{ kind: 'addMainRule', priority: 32766 }]);
  });

  it("on Android, puts address, gateway and DNS in EthernetService's ipconfig.txt instead of resolv.conf", () => {
    const android: DnsTarget = { kind: 'ipconfig', path: '/data/misc/ethernet/ipconfig.txt' };
    const ops = planGuest(fresh(), configure, android);
    const write = ops.find((op) => op.kind === 'writeDnsFile');
    assert.equal(write?.path, android.path);
    assert.equal(ops.filter((op) => op.kind === 'writeDnsFile').length, 1);
    assert.deepEqual(planGuest(simulate(fresh(), ops), configure, android), []);
  });

  it('with DHCP, only names, sizes and raises the link; on Android it also gives the link DHCP in ipconfig.txt', () => {
    const dhcp: GuestConfig = {
      ...configure,
      link: { ...configure.link, address: '0.0.0.0', prefixLength: 1, gateway: '0.0.0.0', dhcp: true },
    };
    const linkOps = [
      { kind: 'linkUp', name: 'lo' },
      { kind: 'renameLink', from: 'vm_wlan0', to: 'wlan0' },
      { kind: 'setMtu', name: 'wlan0', mtu: 1400, before: 1500 },
      { kind: 'linkUp', name: 'wlan0' },
    ];
    assert.deepEqual(planGuest(fresh(), dhcp, RESOLV), linkOps);
    const android: DnsTarget = { kind: 'ipconfig', path: '/data/misc/ethernet/ipconfig.txt' };
    const ops = planGuest(fresh(), dhcp, android);
    assert.deepEqual(ops.slice(0, 4), linkOps);
    const write = ops[4];
    assert.ok(write?.kind === 'writeDnsFile' && ops.length === 5);
    assert.equal(assignmentOf(Buffer.from(write.content), 'wlan0'), 'DHCP');
    assert.deepEqual(planGuest(simulate(fresh(), ops), dhcp, android), []);
  });
});

describe('guest planner: IPv6, and a DHCP configure', () => {
  const token = `guestnet:${'d'.repeat(32)}`;
  const NONE: DnsTarget = { kind: 'none' };
  const ipv6 = { address: 'fd00::ac11:303', prefixLength: 64, gateway: 'fd00::1' };
  const configure: GuestConfig = {
    token,
    link: { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2', ipv6 },
    dns: [],
  };
  const configured = (): GuestObserved => ({
    links: [{ name: 'wlan0', alias: token, mtu: 1500, up: true, addresses: ['172.17.3.3/16'], addresses6: [] }],
    defaultRoute: { gateway: '172.17.3.2', dev: 'wlan0' },
    defaultRoute6: undefined,
    rules6: { mainRulePriority: 32766, terminalRulePriority: undefined },
    mainRulePriority: 32766,
    terminalRulePriority: undefined,
    dnsFile: undefined,
  });

  it('adds the address without duplicate address detection and the default route, in the IPv6 batch', () => {
    const ops = planGuest(configured(), configure, NONE);
    assert.deepEqual(
      ops.map((op) => [op.kind, familyOf(op), ...ipLinesOf(op)]),
      [
        ['addAddress', 6, 'address add fd00::ac11:303/64 dev wlan0 nodad'],
        ['setDefaultRoute', 6, 'route replace default via fd00::1 dev wlan0'],
      ],
    );
  });

  it('plans nothing once both are in place, and reports IPv6 as applied', () => {
    const done = { ...configured(), defaultRoute6: { gateway: 'fd00::1', dev: 'wlan0' } };
    done.links[0]!.addresses6 = ['fd00::ac11:303/64'];
    assert.deepEqual(planGuest(done, configure, NONE), []);
    assert.deepEqual(verifiedState(done, configure).ipv6, ipv6);
  });

  it('an Android guest whose netd left no IPv6 rule for main gets one before its catch-all', () => {
    const android = { ...configured(), rules6: { mainRulePriority: undefined, terminalRulePriority: 32000 } };
    const rule = planGuest(android, configure, NONE).find((op) => op.kind === 'addMainRule');
    assert.deepEqual(rule, { kind: 'addMainRule', priority: 31999, family: 6 });
  });

  it('a configure without IPv6 plans no IPv6, and verifying does not ask for it', () => {
    const { ipv6: _, ...link } = configure.link;
    assert.deepEqual(planGuest(configured(), { ...configure, link }, NONE), []);
    assert.equal(verifiedState(configured(), { ...configure, link }).ipv6, undefined);
  });

  it('a configure without IPv6, after one with it, takes the route and the address away again, each with its inverse', () => {
    const { ipv6: _, ...link } = configure.link;
    const had = { ...configured(), defaultRoute6: { gateway: 'fd00::1', dev: 'wlan0' } };
    had.links[0]!.addresses6 = ['fd00::ac11:303/64'];
    const ops = planGuest(had, { ...configure, link }, NONE);
    assert.deepEqual(
      ops.map((op) => [op.kind, familyOf(op), ...ipLinesOf(op)]),
      [
        ['deleteDefaultRoute', 6, 'route del default via fd00::1 dev wlan0'],
        ['deleteAddress', 6, 'address del fd00::ac11:303/64 dev wlan0'],
      ],
    );
    assert.deepEqual(inverseOf(ops[0]!), { kind: 'setDefaultRoute', gateway: 'fd00::1', dev: 'wlan0', before: undefined });
    assert.throws(() => verifiedState(had, { ...configure, link }), /still has fd00::ac11:303\/64/);
  });

  it('reads what `ip -6 -j` shows: global addresses, the default route and the rules', () => {
    const output = [
      JSON.stringify([{ ifname: 'wlan0', addr_info: [{ local: 'fd00::ac11:303', prefixlen: 64 }] }]),
      JSON.stringify([{ dst: 'default', gateway: 'fd00::1', dev: 'wlan0' }]),
      JSON.stringify([
        { priority: 0, src: 'all', table: 'local' },
        { priority: 32766, src: 'all', table: 'main' },
      ]),
    ].join('\n');
    const state = withIp6State(configured(), output);
    assert.deepEqual(state.links[0]?.addresses6, ['fd00::ac11:303/64']);
    assert.deepEqual(state.defaultRoute6, { gateway: 'fd00::1', dev: 'wlan0' });
    assert.equal(state.rules6?.mainRulePriority, 32766);
  });

  it('a DHCP configure plans only the link: name, MTU, up', () => {
    const fresh: GuestObserved = {
      ...configured(),
      links: [{ name: 'vm_wlan0', alias: token, mtu: 1500, up: false, addresses: [] }],
      defaultRoute: undefined,
    };
    const { ipv6: _, ...link } = configure.link;
    const ops = planGuest(
      fresh,
      { ...configure, link: { ...link, address: '0.0.0.0', prefixLength: 1, gateway: '0.0.0.0', dhcp: true } },
      NONE,
    );
    assert.deepEqual(
      ops.map((op) => op.kind),
      ['renameLink', 'linkUp'],
    );
  });
});
