import assert from 'node:assert/strict';
import { formatGuestStatus, type GuestStatus } from '@guestnet/guest-agent';

const running: GuestStatus = {
  agent: { running: true, pid: 812 },
  host: { state: 'connected', since: '2026-01-01T00:00:00.000Z', socket: '/dev/socket/guestnet' },
  link: { name: 'wlan0', mtu: 1400, up: true, addresses: ['172.17.3.3/16'], addresses6: ['fd00::ac11:303/64'] },
  defaultRoute: { gateway: '172.17.3.2', dev: 'wlan0' },
  defaultRoute6: { gateway: 'fd00::1', dev: 'wlan0' },
  mainReachable: true,
  dns: ['172.17.3.2'],
  lastApply: { ok: true, at: '2026-01-01T00:00:01.000Z', changes: 7 },
};

describe('guest-agent status output', () => {
  it('shows one aligned line per subject', () => {
    assert.equal(
      formatGuestStatus(running, 200),
      [
        'agent      running (pid 812)',
        'host       connected since 2026-01-01T00:00:00.000Z (/dev/socket/guestnet)',
        'link       wlan0 up, mtu 1400',
        'address    172.17.3.3/16, fd00::ac11:303/64',
        'route      default via 172.17.3.2 dev wlan0',
        'route6     default via fd00::1 dev wlan0',
        'dns        172.17.3.2',
        'last apply ok at 2026-01-01T00:00:01.000Z, 7 changes',
      ].join('\n'),
    );
  });

  it('says what is missing or wrong: no agent, no link, a route nothing uses, a failed apply', () => {
    const text = formatGuestStatus(
      {
        ...running,
        agent: { running: false, pid: undefined },
        link: undefined,
        defaultRoute6: undefined,
        mainReachable: false,
        dns: [],
        lastApply: { ok: false, at: '2026-01-01T00:00:02.000Z', error: 'ip: RTNETLINK answers: File exists' },
      },
      200,
    );
    assert.deepEqual(text.split('\n'), [
      'agent      not running',
      'host       unknown',
      'link       none from guestnet',
      'address    none',
      'route      default via 172.17.3.2 dev wlan0 (UNUSED: no ip rule looks up main)',
      'dns        none',
      'last apply FAILED at 2026-01-01T00:00:02.000Z: ip: RTNETLINK answers: File exists',
    ]);
  });

  it('continues a long value under itself within the width, for a phone over adb shell', () => {
    const lines = formatGuestStatus(running, 40).split('\n');
    assert.ok(
      lines.every((line) => line.length <= 40),
      lines.join('\n'),
    );
    const at = lines.findIndex((line) => line.startsWith('host'));
    assert.match(lines[at + 1] ?? '', /^ {11}\S/);
  });
});
