import assert from 'node:assert/strict';
import { parseControlRequest } from '@guestnet/host-agent';
import { ProtocolError } from '@guestnet/protocol';

describe('control socket requests', () => {
  it('accepts the four requests the CLI sends', () => {
    assert.deepEqual(parseControlRequest({ type: 'status' }), { type: 'status' });
    assert.deepEqual(parseControlRequest({ type: 'detach', pid: 42 }), { type: 'detach', pid: 42 });
    const forward = { protocol: 'tcp', hostPort: 5555, guestPort: 5555 };
    assert.deepEqual(parseControlRequest({ type: 'forward', pid: 42, forward, remove: false }), {
      type: 'forward',
      pid: 42,
      forward,
      remove: false,
    });
    assert.deepEqual(parseControlRequest({ type: 'attach', pid: 42, settings: { mtu: 1400 }, wait: true }), {
      type: 'attach',
      pid: 42,
      settings: { mtu: 1400 },
      wait: true,
    });
  });

  it('accepts an attach of many guests, and refuses a list that is empty, too long, repeats a pid or holds a bad one', () => {
    assert.deepEqual(parseControlRequest({ type: 'attach', pids: [42, 43], settings: {}, wait: true }), {
      type: 'attach',
      pids: [42, 43],
      settings: {},
      wait: true,
    });
    const bad: unknown[] = [
      { type: 'attach', pids: [], settings: {}, wait: true },
      { type: 'attach', pids: Array.from({ length: 1025 }, (_, i) => i + 1), settings: {}, wait: true },
      { type: 'attach', pids: [42, 42], settings: {}, wait: true },
      { type: 'attach', pids: [42, 0], settings: {}, wait: true },
      { type: 'attach', pids: '42', settings: {}, wait: true },
      { type: 'attach', pids: [42], settings: null, wait: true },
      { type: 'attach', pids: [42], settings: {}, wait: 1 },
    ];
    for (const raw of bad) assert.throws(() => parseControlRequest(raw), ProtocolError, JSON.stringify(raw).slice(0, 80));
  });

  it('refuses anything else as a protocol error', () => {
    const bad: unknown[] = [
      null,
      [],
      'status',
      {},
      { type: 'reboot', pid: 1 },
      { type: 'detach' },
      { type: 'detach', pid: 0 },
      { type: 'detach', pid: 'x' },
      { type: 'attach', pid: 42, settings: null, wait: true },
      { type: 'attach', pid: 42, settings: {}, wait: 'yes' },
      { type: 'forward', pid: 42, forward: { protocol: 'tcp', hostPort: 70000, guestPort: 1 }, remove: false },
      JSON.parse('{"__proto__": {"type": "status"}}'),
    ];
    for (const raw of bad) assert.throws(() => parseControlRequest(raw), ProtocolError, JSON.stringify(raw));
  });
});
