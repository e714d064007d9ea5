import assert from 'node:assert/strict';
import { Keeper } from '@guestnet/guest-agent';
import { type GuestConfig, linkIdOf, newOneTimeToken } from '@guestnet/protocol';
import { hostLink, ScriptedEvents, SimulatedGuest } from '../../fixtures/guest-kernel.js';

// The keeper holds what the host configured and keeps it in force: what it
// applies, when a kernel event makes it look again, what it repairs, and
// when it stops keeping. Against a simulated guest kernel: no `ip`.

const DNS = { kind: 'resolv.conf' as const, path: '/run/guestnet-unit/resolv.conf' };
const link = { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' };
const ipv6 = { address: 'fd00::ac11:303', prefixLength: 64, gateway: 'fd00::1' };
const changesOf = (ops: ReadonlyArray<{ kind: string }> | undefined) => ops?.map((op) => op.kind);

describe('guest-agent/keeper: what it applies and keeps', () => {
  let token: string;
  let config: GuestConfig;
  let guest: SimulatedGuest;
  let events: ScriptedEvents;
  let statuses: Array<Record<string, unknown>>;
  let said: Array<[string, Record<string, unknown> | undefined]>;
  let keeper: Keeper;
  let stopped: boolean;
  let keeping: Promise<void> | undefined;

  beforeEach(() => {
    token = newOneTimeToken();
    config = { token, link, dns: ['172.17.3.2'] };
    guest = new SimulatedGuest();
    guest.state.links.push(hostLink(token));
    events = new ScriptedEvents();
    statuses = [];
    said = [];
    stopped = false;
    keeping = undefined;
    const status = { update: (change: Record<string, unknown>) => void statuses.push(change) };
    keeper = new Keeper(DNS, status, (message, meta) => void said.push([message, meta]), undefined, guest);
  });
  afterEach(async () => {
    stopped = true;
    events.stop();
    await keeping;
  });

  /** Keeps from now on; resolves once the keeper waits for its first event. */
  async function keep(): Promise<void> {
    keeping = keeper.keep(events, () => stopped);
    await events.waiting();
  }
  /** An event, and the keeper done with it. */
  async function event(line?: string): Promise<void> {
    events.emit(line);
    await events.waiting();
  }

  it('applies the plan to its link, reports what is in force, and records the link by id, never by token', async () => {
    const report = await keeper.apply(config);
    assert.deepEqual(changesOf(guest.applies[0]), ['renameLink', 'setAlias', 'addAddress', 'linkUp', 'setDefaultRoute', 'writeDnsFile']);
    assert.deepEqual([report.state.name, report.state.address, report.changes], ['wlan0', '172.17.3.3', 6]);
    const last = statuses.at(-1) as { link: string; lastApply: { ok: boolean; changes: number } };
    assert.deepEqual([last.link, last.lastApply.ok, last.lastApply.changes], [linkIdOf(token), true, 6]);
    assert.doesNotMatch(JSON.stringify(statuses), new RegExp(token.slice('guestnet:'.length)));
    assert.equal((await keeper.apply(config)).changes, 0, 'an applied configuration plans to no change');
  });

  it('plans from what the agent saw when it still holds, and from a fresh look when it does not', async () => {
    const seen = await guest.observe(DNS.path);
    guest.looks = 0;
    await keeper.apply(config, seen);
    assert.equal(guest.looks, 0, 'no look of its own');
    const other = newOneTimeToken();
    const stale = await guest.observe(DNS.path);
    guest.state.links.push(hostLink(other, 8));
    stale.links.push({ ...hostLink(other, 8), name: 'gnGoneSinceSeen' });
    guest.looks = 0;
    await keeper.apply({ ...config, token: other, link: { ...link, rename: 'eth1' } }, stale);
    assert.equal(guest.looks, 1, 'the plan from what was seen failed: a fresh look decided');
    assert.equal(guest.link('eth1')?.alias, other);
  });

  it('reports a failed apply without its token, in the status as to the caller', async () => {
    const name = token.slice('guestnet:'.length);
    guest.failNext = new Error(`Cannot find device "${name}"`);
    await assert.rejects(keeper.apply(config), /Cannot find device/);
    const last = statuses.at(-1) as { lastApply: { ok: boolean; error: string } };
    assert.equal(last.lastApply.ok, false);
    assert.match(last.lastApply.error, /^Cannot find device "<one-time-name>"$/);
  });

  it('refuses a DHCP link where it has no client, saying what it needs', async () => {
    assert.equal(keeper.takesDhcp, false);
    await assert.rejects(keeper.apply({ ...config, link: { ...link, dhcp: true } }), /DHCP needs udhcpc/);
  });

  it('takes back IPv6 the host no longer gives: the look reads it because the configuration replaced had it', async () => {
    await keeper.apply({ ...config, link: { ...link, ipv6 } });
    assert.deepEqual(guest.link('wlan0')?.addresses6, ['fd00::ac11:303/64']);
    const report = await keeper.apply(config);
    assert.deepEqual(changesOf(guest.applies.at(-1)), ['deleteDefaultRoute', 'deleteAddress']);
    assert.equal(report.state.ipv6, undefined);
    assert.deepEqual(guest.link('wlan0')?.addresses6, []);
  });

  it('looks again on an event and repairs what someone changed', async () => {
    await keeper.apply(config);
    await keep();
    const wlan0 = guest.link('wlan0');
    if (wlan0) wlan0.addresses = [];
    await event('Deleted 7: wlan0    inet 172.17.3.3/16 scope global wlan0\\       valid_lft forever preferred_lft forever');
    assert.deepEqual(changesOf(guest.applies.at(-1)), ['addAddress']);
    assert.deepEqual(said.at(-1), ['repaired drift', { changes: ['addAddress'] }]);
    assert.deepEqual(guest.link('wlan0')?.addresses, ['172.17.3.3/16']);
  });

  it('needs no look for events that only echo its own apply, and looks again for any it cannot tell', async () => {
    await keeper.apply(config);
    await keep();
    const looks = guest.looks;
    await event('7: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default');
    await event('7: wlan0    inet 172.17.3.3/16 scope global wlan0\\       valid_lft forever preferred_lft forever');
    await event('default via 172.17.3.2 dev wlan0');
    assert.equal(guest.looks, looks, 'each shows what the apply read back');
    await event('32000:\tfrom all iif wlan0 lookup 1001');
    assert.equal(guest.looks, looks + 1, 'a rule: only a look tells what it changed');
    await event(undefined);
    assert.equal(guest.looks, looks + 2, 'a monitor that restarted may have missed anything');
    assert.equal(guest.applies.length, 1, 'nothing had drifted');
  });

  it('looks again when its wait runs out, catching drift the kernel does not announce', async () => {
    await keeper.apply(config);
    await keep();
    guest.state.dnsFile = Buffer.from('nameserver 192.0.2.53\n');
    events.timeout();
    await events.waiting();
    assert.deepEqual(changesOf(guest.applies.at(-1)), ['writeDnsFile']);
    assert.match(String(guest.state.dnsFile), /nameserver 172\.17\.3\.2/);
    assert.ok(
      events.waits.every((ms) => ms === events.waits[0]),
      'it waits the same recheck time each round',
    );
  });

  it('looks at nothing before the host configured it', async () => {
    await keep();
    await event('32000:\tfrom all lookup main');
    events.timeout();
    await events.waiting();
    assert.equal(guest.looks, 0);
  });

  it('stops keeping once its link is gone, until the host configures it again', async () => {
    await keeper.apply(config);
    await keep();
    guest.state.links = guest.state.links.filter((l) => l.name !== 'wlan0');
    await event('Deleted 7: wlan0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN');
    const looks = guest.looks;
    await event(undefined);
    assert.equal(guest.looks, looks, 'nothing left to keep');
    guest.state.links.push(hostLink(token));
    await keeper.apply(config);
    await event(undefined);
    assert.equal(guest.looks, looks + 2, 'kept again');
  });

  it('stops keeping the link the host released, and only that one', async () => {
    await keeper.apply(config);
    await keep();
    keeper.release(newOneTimeToken());
    assert.equal(said.length, 0, 'another link released is not ours');
    keeper.release(token);
    assert.deepEqual(said, [['released by the host', { link: linkIdOf(token) }]]);
    assert.deepEqual(statuses.at(-1), { link: undefined, linkIndex: undefined });
    const looks = guest.looks;
    await event(undefined);
    assert.equal(guest.looks, looks);
  });

  it('follows a new token the host wrote on its link, and knows the link by either', async () => {
    await keeper.apply(config);
    await keep();
    const rotated = `guestnet:${'b'.repeat(32)}`;
    const wlan0 = guest.link('wlan0');
    if (wlan0) wlan0.alias = rotated;
    await event(undefined);
    assert.deepEqual(said.at(0), ['the host gave our link a new token', { link: linkIdOf(rotated) }]);
    assert.ok(statuses.some((s) => s.link === linkIdOf(rotated)));
    // The status file names the link by its ifindex too, which `status` finds while the file names the older token's id.
    const index = guest.link('wlan0')?.index;
    assert.ok(index !== undefined && statuses.every((s) => s.link === undefined || s.linkIndex === index), JSON.stringify(statuses));
    assert.equal(keeper.currentToken(token), rotated);
    // A session that began under the old token re-sends its configure, and releases it, by that token.
    assert.equal((await keeper.apply(config)).changes, 0);
    keeper.release(token);
    assert.deepEqual(said.at(-1), ['released by the host', { link: linkIdOf(rotated) }]);
  });

  it('runs one apply at a time: a repair queued behind a new configure keeps that one, not what it replaced', async () => {
    await keeper.apply(config);
    await keep();
    let open = () => {};
    guest.gate = new Promise((resolve) => (open = resolve));
    const smaller = keeper.apply({ ...config, link: { ...link, mtu: 1400 } });
    await new Promise((resolve) => setImmediate(resolve));
    // The recheck comes while the new configure applies: the repair it queues looks afresh, after that apply.
    events.timeout();
    open();
    guest.gate = undefined;
    await smaller;
    await events.waiting();
    assert.equal(guest.link('wlan0')?.mtu, 1400);
    assert.deepEqual(guest.applies.slice(1).map(changesOf), [['setMtu']], 'the repair found nothing to put back');
  });
});
