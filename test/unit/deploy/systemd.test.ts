import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { replyWithin, resolveSettings, SETTINGS } from '@guestnet/host-agent';
import { NODE_FLAGS } from '../../fixtures/sandbox.js';

const UNIT = fileURLToPath(new URL('../../../../deploy/systemd/guestnet-host.service', import.meta.url));

/** key -> values, as systemd reads them: later lines add to (or, for most keys, override) earlier ones. */
async function unit(): Promise<Map<string, string[]>> {
  const keys = new Map<string, string[]>();
  for (const line of (await readFile(UNIT, 'utf8')).split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) keys.set(match[1] as string, [...(keys.get(match[1] as string) ?? []), match[2] as string]);
  }
  return keys;
}

describe('deploy/systemd/guestnet-host.service', () => {
  it('runs the bundled daemon with the default socket and state paths', async () => {
    const [execStart] = (await unit()).get('ExecStart') ?? [];
    const argv = (execStart ?? '').split(' ');
    assert.deepEqual(argv.slice(0, NODE_FLAGS.length + 3), ['/usr/bin/node', ...NODE_FLAGS, '/opt/guestnet/host-agent.cjs', 'serve']);
    assert.equal(argv[argv.indexOf('--socket') + 1], '/run/guestnet/guest/guest.sock');
    assert.equal(argv[argv.indexOf('--state-dir') + 1], '/run/guestnet/state');
    for (const flag of argv.slice(NODE_FLAGS.length + 3).filter((a) => a.startsWith('--'))) {
      assert.ok(
        Object.values(SETTINGS).some((s) => s.flag.startsWith(`${flag} `)),
        `${flag} is not a host-agent setting`,
      );
    }
  });

  it('keeps its state across restarts and restarts on failure', async () => {
    const keys = await unit();
    assert.deepEqual(keys.get('RuntimeDirectory'), ['guestnet']);
    assert.deepEqual(keys.get('RuntimeDirectoryPreserve'), ['yes']);
    assert.deepEqual(keys.get('Restart'), ['on-failure']);
  });

  it('is hardened but keeps what attach needs: NET_ADMIN, setns, /proc/sys writes', async () => {
    const keys = await unit();
    const caps = (keys.get('CapabilityBoundingSet') ?? []).join(' ').split(' ');
    for (const cap of ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']) assert.ok(caps.includes(cap), cap);
    assert.deepEqual(keys.get('NoNewPrivileges'), ['yes']);
    assert.deepEqual(keys.get('ProtectSystem'), ['strict']);
    assert.deepEqual(keys.get('ReadWritePaths'), ['/run']);
    assert.equal(keys.get('ProtectKernelTunables'), undefined, 'ip_forward must stay writable');
  });

  it('lets a stop finish the request under way, a hung command and its rollback included, before systemd kills it', async () => {
    const [timeoutStop] = (await unit()).get('TimeoutStopSec') ?? [];
    const seconds = /^(\d+)s$/.exec(timeoutStop ?? '')?.[1];
    assert.ok(seconds, `TimeoutStopSec=${timeoutStop}`);
    // As long as a CLI waits for that request's reply with the same settings: the unit's, the defaults.
    const { commandTimeout, timeout } = resolveSettings({}, {}, 'the defaults');
    assert.ok(Number(seconds) * 1000 > replyWithin(commandTimeout, timeout), `TimeoutStopSec=${timeoutStop}`);
  });
});
