import assert from 'node:assert/strict';
import { guestReachableResolvers, HOST_RESOLV_CONF, RESOLVED_UPSTREAMS } from '@guestnet/host-agent';

const files = (map: Record<string, string>) => async (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error('ENOENT');
  return text;
};

describe('guest-reachable resolvers', () => {
  it("hands out the host's own non-loopback resolvers", async () => {
    const read = files({ [HOST_RESOLV_CONF]: 'search lan\nnameserver 192.0.2.1\nnameserver 127.0.0.1\nnameserver 192.0.2.2\n' });
    assert.deepEqual(await guestReachableResolvers(read), ['192.0.2.1', '192.0.2.2']);
  });

  it("looks behind systemd-resolved's 127.0.0.53 stub for the real upstreams", async () => {
    const read = files({
      [HOST_RESOLV_CONF]: 'nameserver 127.0.0.53\noptions edns0\n',
      [RESOLVED_UPSTREAMS]: 'nameserver 198.51.100.53\n',
    });
    assert.deepEqual(await guestReachableResolvers(read), ['198.51.100.53']);
  });

  it('never hands out a loopback resolver', async () => {
    const read = files({ [HOST_RESOLV_CONF]: 'nameserver 127.0.0.1\n' });
    assert.deepEqual(await guestReachableResolvers(read), []);
  });
});
