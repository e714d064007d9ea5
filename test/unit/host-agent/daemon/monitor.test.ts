import assert from 'node:assert/strict';
import { type HostEvents, type StartMonitor, watchHost } from '@guestnet/host-agent';

// What the daemon hears of the host from `ip -o monitor link route rule
// address`: each line as the kernel's event it is (lines as ip 6.x prints
// them), and a monitor that died as events lost.

/** The host events watchHost reported, each as [name, argument], and the monitor it started, driven by hand. */
function watched() {
  const heard: Array<[string, string?]> = [];
  const errors: string[] = [];
  const record = (name: string) => (arg?: string) => void heard.push(arg === undefined ? [name] : [name, arg]);
  const events: HostEvents = {
    changed: record('changed'),
    lost: record('lost'),
    linkDeleted: record('linkDeleted'),
    linkChanged: record('linkChanged'),
    defaultRouteChanged: record('defaultRouteChanged'),
    ipv6AddressChanged: record('ipv6AddressChanged'),
  };
  let line: (text: string) => void = () => {};
  let restart: () => void = () => {};
  let stopped = 0;
  const start: StartMonitor = (onLine, onRestart) => {
    line = onLine;
    restart = onRestart;
    return {
      stop: () => void stopped++,
      get running() {
        return stopped === 0;
      },
    };
  };
  const watch = watchHost(events, (message) => errors.push(message), start);
  /** What one line made the daemon hear, beside `changed`, which every line makes. */
  const of = (text: string) => {
    heard.length = 0;
    line(text);
    assert.deepEqual(heard[0], ['changed'], 'every event may change what the daemon remembers');
    return heard.slice(1);
  };
  return { watch, of, heard, errors, restart: () => restart(), stopped: () => stopped };
}

describe('daemon/monitor: what each host event means to the daemon', () => {
  it('tells a link that went from one that changed, by the name before its @', () => {
    const { of } = watched();
    const flags = '<BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether e6:e7:fd:7c:53:69';
    assert.deepEqual(of(`Deleted 7: vm_wlan1@NONE: ${flags}`), [['linkDeleted', 'vm_wlan1']]);
    assert.deepEqual(of(`3: vm_wlan1@if2: ${flags}`), [['linkChanged', 'vm_wlan1']]);
    assert.deepEqual(of(`1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN`), [['linkChanged', 'lo']]);
  });

  it('tells a default route that came or went, of either family, and nothing of other routes', () => {
    const { of } = watched();
    assert.deepEqual(of('default via 10.99.0.1 dev rmnet0 proto dhcp metric 100'), [['defaultRouteChanged']]);
    assert.deepEqual(of('Deleted default via fe80::1 dev wlan0 proto ra metric 1024 pref medium'), [['defaultRouteChanged']]);
    assert.deepEqual(of('2001:db8::/64 dev lo proto kernel metric 256 pref medium'), []);
    assert.deepEqual(of('Deleted 172.17.3.3 dev vm_wlan scope link'), []);
    assert.deepEqual(of('local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 '), []);
  });

  it("names the link of an IPv6 address that changed, and takes an IPv4 address's for no link event", () => {
    const { of } = watched();
    const life = '\\       valid_lft forever preferred_lft forever';
    assert.deepEqual(of(`3: wlan0    inet6 2001:db8:1::2/64 scope global tentative ${life}`), [['ipv6AddressChanged', 'wlan0']]);
    assert.deepEqual(of(`Deleted 3: wlan0    inet6 2001:db8:1::2/64 scope global ${life}`), [['ipv6AddressChanged', 'wlan0']]);
    assert.deepEqual(of(`1: lo    inet 127.0.0.1/8 scope host lo${life}`), []);
    assert.deepEqual(of(`Deleted 4: vm_wlan    inet 172.17.3.2/32 scope global vm_wlan${life}`), []);
  });

  it('takes a policy rule, added or deleted, for no link event', () => {
    const { of } = watched();
    assert.deepEqual(of('32000:\tfrom all iif vm_wlan lookup 1001'), []);
    assert.deepEqual(of('Deleted 32000:\tfrom all iif vm_wlan lookup 1001'), []);
  });

  it('says events were lost when the monitor died, and has the reconcile loop look again', () => {
    const { restart, heard, errors } = watched();
    restart();
    assert.deepEqual(heard, [['lost'], ['defaultRouteChanged']]);
    assert.deepEqual(errors, ['ip monitor exited; restarting it']);
  });

  it('hands back the monitor it started, to stop it and to ask whether events are heard', () => {
    const { watch, stopped } = watched();
    assert.equal(watch.running, true);
    watch.stop();
    assert.deepEqual([stopped(), watch.running], [1, false]);
  });
});
