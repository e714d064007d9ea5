import assert from 'node:assert/strict';
import { DnsForwarder } from '@guestnet/host-agent';

const forwarder = (dropped: string[]) =>
  new DnsForwarder({ upstreams: async () => ({ servers: [] }), isGuest: () => true, onDropped: (reason) => dropped.push(reason) });

describe("the DNS forwarder's limits", () => {
  it('lets a guest have 32 queries in flight, and one more once one is answered', () => {
    const dropped: string[] = [];
    const dns = forwarder(dropped);
    for (let i = 0; i < 32; i++) assert.equal(dns.admit('172.17.3.3'), true);
    assert.equal(dns.admit('172.17.3.3'), false);
    assert.deepEqual(dropped, ['172.17.3.3 has too many queries in flight']);
    assert.equal(dns.admit('172.17.3.4'), true, 'another guest has its own count');
    dns.release('172.17.3.3');
    assert.equal(dns.admit('172.17.3.3'), true);
  });

  it('drops what a guest sends past 100 queries a second, even with none in flight', () => {
    const dropped: string[] = [];
    const dns = forwarder(dropped);
    let admitted = 0;
    for (let i = 0; i < 150; i++) {
      if (dns.admit('172.17.3.3')) {
        admitted++;
        dns.release('172.17.3.3');
      }
    }
    assert.ok(admitted >= 100 && admitted < 150, `admitted ${admitted}`);
    assert.equal(dropped[0], '172.17.3.3 sends more than 100 queries a second');
  });

  it('reports a gateway it cannot listen on instead of failing, and closes cleanly', async () => {
    const dns = forwarder([]);
    // 192.0.2.1 is on no link of this host: the bind fails.
    const failures = await dns.serve(['192.0.2.1', '192.0.2.1']);
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? '', /^192\.0\.2\.1: .*(EADDRNOTAVAIL|EACCES)/);
    await dns.close();
  });
});
