import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { Sandbox } from '../../fixtures/sandbox.js';

interface Finding {
  check: string;
  status: string;
  detail: string;
  fix?: string;
}

async function doctor(sandbox: Sandbox): Promise<{ exitCode: number; findings: Finding[] }> {
  const result = await sandbox.hostAgent(['doctor', '--json', '--socket', sandbox.socket]);
  return { exitCode: result.exitCode, findings: JSON.parse(result.stdout).checks };
}

describe('host-agent doctor', () => {
  let sandbox: Sandbox;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());
  afterEach(async () => assert.equal(await sandbox.hostSnapshot(), pristine, 'doctor or the test changed the host'));

  it('finds nothing blocking on a healthy host, having probed veth, nat and conntrack', async () => {
    const { exitCode, findings } = await doctor(sandbox);
    assert.deepEqual(
      findings.filter((f) => f.status === 'fail'),
      [],
    );
    assert.equal(exitCode, 0);
    for (const pattern of [/veth works/, /nat and conntrack works/, /^wlan0 \(default route\)$/, /root-only|created 0700/]) {
      assert.ok(
        findings.some((f) => pattern.test(f.detail)),
        `no finding matches ${pattern}`,
      );
    }
    const human = await sandbox.hostAgent(['doctor', '--socket', sandbox.socket]);
    assert.match(human.stdout, /^\[ok\] {3}uplink: wlan0 \(default route\)$/m);
    assert.match(human.stdout, /nothing blocks guests$/);
  });

  it('explains IPv6: IPv4 only without an IPv6 default route, and a failure with its fix when --ipv6 nat meets a kernel with IPv6 off', async () => {
    const { findings } = await doctor(sandbox);
    assert.ok(
      findings.some((f) => f.check === 'ipv6' && f.status === 'warn' && /no IPv6 default route: guests get IPv4 only/.test(f.detail)),
      JSON.stringify(findings),
    );
    const sysctl = (value: string) =>
      sandbox.host(['sysctl', '-q', '-w', `net.ipv6.conf.all.disable_ipv6=${value}`, `net.ipv6.conf.default.disable_ipv6=${value}`]);
    await sysctl('1');
    try {
      const result = await sandbox.hostAgent(['doctor', '--json', '--socket', sandbox.socket, '--ipv6', 'nat']);
      const off = (JSON.parse(result.stdout) as { checks: Finding[] }).checks.find((f) => f.check === 'ipv6');
      assert.equal(off?.status, 'fail');
      assert.match(off?.detail ?? '', /IPv6 is switched off/);
      assert.match(off?.fix ?? '', /disable_ipv6=0/);
      assert.equal(result.exitCode, 14);
    } finally {
      await sysctl('0');
    }
  });

  it('explains a foreign FORWARD drop policy with its fix, and exits non-zero', async () => {
    await sandbox.host(
      ['nft', '-f', '-'],
      'table inet filter {\n chain forward { type filter hook forward priority 0; policy drop; }\n}\n',
    );
    try {
      const { exitCode, findings } = await doctor(sandbox);
      assert.equal(exitCode, ExitCode.doctorFailed);
      const finding = findings.find((f) => f.check === 'forward' && f.status === 'fail');
      assert.match(
        finding?.detail ?? '',
        /inet filter forward has policy drop: an accept in guestnet's table cannot override a drop in another table/,
      );
      assert.match(finding?.fix ?? '', /vm_wlan/);
    } finally {
      await sandbox.host(['nft', 'delete', 'table', 'inet', 'filter']);
    }
  });

  it('on a Docker-style iptables host, knows its own jump precedes the FORWARD drop', async () => {
    const docker = await Sandbox.create('iptables');
    try {
      const result = await docker.hostAgent(['doctor', '--json', '--socket', docker.socket]);
      const findings: Finding[] = JSON.parse(result.stdout).checks;
      assert.ok(findings.some((f) => f.check === 'firewall backend' && /^iptables \(detected/.test(f.detail)));
      assert.ok(findings.some((f) => f.check === 'forward' && f.status === 'ok' && /position 1 comes first/.test(f.detail)));
      assert.equal(result.exitCode, 0, result.stdout);
    } finally {
      await docker.destroy();
    }
  });

  it('reports a legacy FORWARD drop as a split brain when guestnet would use nftables', async () => {
    const legacy = await Sandbox.create('iptables-legacy');
    try {
      const result = await legacy.hostAgent(['doctor', '--json', '--socket', legacy.socket, '--firewall', 'nftables']);
      const findings: Finding[] = JSON.parse(result.stdout).checks;
      assert.ok(findings.some((f) => f.check === 'forward' && f.status === 'fail' && /split brain/.test(f.detail)));
      assert.equal(result.exitCode, ExitCode.doctorFailed);
    } finally {
      await legacy.destroy();
    }
  });

  it('reports a host route that clashes with the guest pool', async () => {
    await sandbox.host(['ip', 'route', 'add', '172.17.0.0/16', 'via', '198.51.100.1']);
    try {
      const { exitCode, findings } = await doctor(sandbox);
      assert.equal(exitCode, ExitCode.doctorFailed);
      assert.ok(findings.some((f) => f.check === 'subnet' && /overlaps the host route 172\.17\.0\.0\/16 dev wlan0/.test(f.detail)));
    } finally {
      await sandbox.host(['ip', 'route', 'del', '172.17.0.0/16']);
    }
  });

  it("warns when something holds DNS on every address, which keeps the daemon's forwarder off the gateway", async () => {
    const healthy = (await doctor(sandbox)).findings.find((f) => f.check === 'dns');
    assert.equal(healthy?.status, 'ok');
    const listener = sandbox.serveIn(sandbox.hostNs, [
      'node',
      '-e',
      "require('node:dgram').createSocket('udp4').bind(53, '0.0.0.0', () => console.log('ready'))",
    ]);
    await new Promise<void>((resolve) => listener.stdout?.once('data', () => resolve()));
    try {
      const { exitCode, findings } = await doctor(sandbox);
      const dns = findings.find((f) => f.check === 'dns');
      assert.equal(dns?.status, 'warn');
      assert.match(dns?.detail ?? '', /listens for DNS on every address/);
      assert.match(dns?.fix ?? '', /bind-interfaces/);
      assert.equal(exitCode, 0, 'a warning does not fail doctor');
    } finally {
      listener.kill();
      await listener.catch(() => {});
    }
  });

  it('reports a missing uplink and a socket dir others can enter', async () => {
    await sandbox.host(['ip', 'route', 'del', 'default']);
    await sandbox.host(['mkdir', '-p', '-m', '755', `${sandbox.dir}/run`]);
    try {
      const { findings } = await doctor(sandbox);
      assert.ok(findings.some((f) => f.check === 'uplink' && f.status === 'fail'));
      assert.ok(findings.some((f) => f.check === 'permissions' && f.status === 'fail' && /mode 755/.test(f.detail)));
    } finally {
      await sandbox.host(['ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
      await sandbox.host(['chmod', '700', `${sandbox.dir}/run`]);
    }
  });
});
