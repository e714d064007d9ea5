import assert from 'node:assert/strict';
import { IpMonitor } from '@guestnet/runtime';

describe('ip monitor', () => {
  it('runs one ip -o monitor with its options and objects, and stops it', async () => {
    const monitor = new IpMonitor(['-4'], ['link'], () => {});
    assert.equal(monitor.running, false);
    monitor.start();
    for (let i = 0; i < 200 && !monitor.running; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(monitor.running, true);
    monitor.stop();
    for (let i = 0; i < 200 && monitor.running; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(monitor.running, false);
  });

  it('hears its monitor die and restarts it', async () => {
    let restarts = 0;
    // An object ip does not know makes the monitor exit at once.
    const monitor = new IpMonitor(
      [],
      ['nosuchobject'],
      () => {},
      () => restarts++,
    );
    monitor.start();
    for (let i = 0; i < 200 && restarts === 0; i++) await new Promise((r) => setTimeout(r, 10));
    monitor.stop();
    assert.equal(restarts, 1);
  });
});
