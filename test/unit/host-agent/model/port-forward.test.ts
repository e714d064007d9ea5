import assert from 'node:assert/strict';
import { describePortForward, isPortForward, parsePortForward, sameForwards, sameHostPort, samePortForward } from '@guestnet/host-agent';

describe('port forwards', () => {
  it('parses hostPort:guestPort with tcp by default, and says why a spec is refused', () => {
    assert.deepEqual(parsePortForward('5555:5555'), { protocol: 'tcp', hostPort: 5555, guestPort: 5555 });
    assert.deepEqual(parsePortForward('5353:53/udp'), { protocol: 'udp', hostPort: 5353, guestPort: 53 });
    assert.equal(parsePortForward('5555'), "'5555' is not hostPort:guestPort[/tcp|/udp], e.g. 5555:5555/tcp");
    assert.equal(parsePortForward('1:2/sctp'), "'1:2/sctp' is not hostPort:guestPort[/tcp|/udp], e.g. 5555:5555/tcp");
    assert.equal(parsePortForward('0:22'), "'0:22': ports run from 1 to 65535");
    assert.equal(parsePortForward('65536:22'), "'65536:22': ports run from 1 to 65535");
  });

  it('checks a forward read from a record field by field', () => {
    assert.equal(isPortForward({ protocol: 'tcp', hostPort: 1, guestPort: 65535 }), true);
    assert.equal(isPortForward({ protocol: 'udp', hostPort: 53, guestPort: 53, hostAddress: '192.0.2.1' }), true);
    for (const bad of [null, 'x', { protocol: 'icmp', hostPort: 1, guestPort: 1 }, { protocol: 'tcp', hostPort: 1.5, guestPort: 1 }])
      assert.equal(isPortForward(bad), false, JSON.stringify(bad));
    assert.equal(isPortForward({ protocol: 'tcp', hostPort: 1, guestPort: 1, hostAddress: '::1' }), false);
  });

  it('describes a forward with its host address when it has one', () => {
    assert.equal(describePortForward({ protocol: 'tcp', hostPort: 5555, guestPort: 5555 }), '5555->5555/tcp');
    assert.equal(
      describePortForward({ protocol: 'udp', hostPort: 5353, guestPort: 53, hostAddress: '192.0.2.1' }),
      '192.0.2.1:5353->53/udp',
    );
  });

  it('takes two forwards as taking the same connections when protocol and port match and addresses meet', () => {
    const any = { protocol: 'tcp' as const, hostPort: 8080, guestPort: 80 };
    const one = { ...any, hostAddress: '192.0.2.1' };
    assert.equal(sameHostPort(any, { ...one, guestPort: 81 }), true, 'every address meets one');
    assert.equal(sameHostPort(one, { ...one, hostAddress: '192.0.2.2' }), false);
    assert.equal(sameHostPort(any, { ...any, protocol: 'udp' }), false);
    assert.equal(samePortForward(any, one), false);
    assert.equal(samePortForward(one, { ...one }), true);
    assert.equal(sameForwards([any, one], [one, any]), true, 'in any order');
    assert.equal(sameForwards([any], [any, one]), false);
  });
});
