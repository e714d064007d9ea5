import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '@guestnet/protocol';
import type { ResultPromise } from 'execa';
import { type Daemon, type Guest, Sandbox } from '../../fixtures/sandbox.js';
import { leakIn, sampledSecrets } from '../../fixtures/secrets.js';

// A guest that can write the shared socket dir puts a socket of its own
// where guests connect, and relays every later guest's session, reading each
// frame and trying the attack of issue 25: derive the link key from anything
// in the frames that could be the token (v2 sent the one-time name, which is
// the token, in every configure), sign a configure with its own resolvers,
// and sign the guest's applied again with the host's. The victim's token is
// sampled from the kernel, inside its netns, while the attach runs: no frame
// may hold it, its one-time name, or any 8 characters of either.

const RELAY = fileURLToPath(new URL('../../fixtures/relay.js', import.meta.url));
const SAMPLER = fileURLToPath(new URL('../../fixtures/token-sampler.js', import.meta.url));
const EVIL_DNS = '198.51.100.99';
// How long an attach waits for its guest here: a relayed session is slow on a loaded machine, and a refused one waits it out.
const SESSION_WAIT_MS = 12_000;

/** Lines a child prints, as they come. */
function linesOf(child: ResultPromise): string[] {
  const lines: string[] = [];
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = rest + String(chunk);
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  child.catch(() => {});
  return lines;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), what);
}

interface Seen {
  frames: string[];
  derived: boolean[];
}

const seenBy = (lines: string[]): Seen => {
  const parsed = lines.map((line) => JSON.parse(line) as { frame?: unknown; derived?: boolean });
  return {
    frames: parsed.filter((p) => p.frame !== undefined).map((p) => JSON.stringify(p.frame)),
    derived: parsed.filter((p) => p.derived !== undefined).map((p) => p.derived as boolean),
  };
};

describe('faults: a relaying guest reads no token and changes nothing undetected', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;

  beforeEach(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
  });
  afterEach(async () => {
    await daemon?.stop();
    await sandbox?.destroy();
  });

  /** Attaches `victim` while its token is sampled from its netns; resolves to the attach's outcome and the secrets sampled. */
  async function attachSampled(victim: Guest): Promise<{ exitCode: number; stderr: string; secrets: string[] }> {
    const sampler = victim.spawn(['node', SAMPLER]);
    const sampled = linesOf(sampler);
    await until(() => sampled.some((line) => line === 'name lo'), 'the sampler never started');
    const attach = await sandbox.hostAgent(['attach', String(victim.pid), '--timeout', String(SESSION_WAIT_MS)]);
    sampler.stdin?.end();
    await sampler.catch(() => {});
    const secrets = sampledSecrets(sampled);
    assert.ok(secrets.length >= 2, `no token was sampled from the guest: ${sampled.join(', ')}`);
    return { ...attach, secrets };
  }

  it('from another netns: it gets no session, the attack fails, the host logs it, and no frame carries the token', async () => {
    // An attacker would move the host's socket aside and listen in its place;
    // the daemon stops at its next pass once it sees that (planted-socket.test).
    // Here the victim is pointed at the relay instead, so that the relay has
    // all the time it wants against a daemon that goes on serving.
    const relayPath = join(sandbox.dir, 'run', 'relay.sock');
    const attacker = await sandbox.startGuest({ agent: false });
    const relay = attacker.spawn(['node', RELAY, relayPath, sandbox.socket, 'rewrite', EVIL_DNS]);
    const relayed = linesOf(relay);
    await until(() => relayed.length > 0, 'the relay never listened');
    const victim = await sandbox.startGuest({ agentArgs: ['--socket', relayPath] });
    const attach = await attachSampled(victim);
    const seen = seenBy(relayed.slice(1));
    assert.ok(
      seen.frames.some((frame) => frame.includes('"type":"challenge"')),
      'the relay never saw a session',
    );
    const leak = leakIn(seen.frames.join('\n'), attach.secrets);
    assert.equal(leak, undefined, `a frame carried the token: ${leak}`);
    assert.ok(!seen.derived.includes(true), 'the relay derived the link key');
    assert.notEqual(attach.exitCode, ExitCode.ok, 'the attach succeeded through the relay');
    const resolv = await readFile(victim.files[1] as string, 'utf8').catch(() => '');
    assert.doesNotMatch(resolv, new RegExp(EVIL_DNS.replace(/\./g, '\\.')));
    assert.ok(
      daemon
        .output()
        .split('\n')
        .some((line) => line.includes('refused a guest session from another netns') && line.includes('"proof":"valid"')),
      `the refusal was not logged: ${daemon.output()}`,
    );
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
    assert.deepEqual(status.guests, [], 'the failed attach was not rolled back');
    relay.stdin?.end();
  });

  it("in the victim's own netns, where the host accepts it: the whole exchange carries no token, and a rewrite is refused", async () => {
    const relayPath = join(sandbox.dir, 'run', 'relay.sock');
    const victim = await sandbox.startGuest({ agentArgs: ['--socket', relayPath] });
    const relay = victim.spawn(['node', RELAY, relayPath, sandbox.socket, 'rewrite', EVIL_DNS]);
    const relayed = linesOf(relay);
    await until(() => relayed.length > 0, 'the relay never listened');
    const attach = await attachSampled(victim);
    const seen = seenBy(relayed.slice(1));
    assert.ok(
      seen.frames.some((frame) => frame.includes('"type":"configure"')),
      'the relay never saw a configure',
    );
    const leak = leakIn(seen.frames.join('\n'), attach.secrets);
    assert.equal(leak, undefined, `a frame carried the token: ${leak}`);
    assert.ok(seen.derived.length > 0 && !seen.derived.includes(true), `the relay derived the link key: ${seen.derived}`);
    assert.notEqual(attach.exitCode, ExitCode.ok, 'a rewritten configure went through');
    const resolv = await readFile(victim.files[1] as string, 'utf8').catch(() => '');
    assert.doesNotMatch(resolv, new RegExp(EVIL_DNS.replace(/\./g, '\\.')));
    relay.stdin?.end();
  });

  it('passing frames unchanged, the attach succeeds and still no frame carries the token', async () => {
    const relayPath = join(sandbox.dir, 'run', 'relay.sock');
    const victim = await sandbox.startGuest({ agentArgs: ['--socket', relayPath] });
    const relay = victim.spawn(['node', RELAY, relayPath, sandbox.socket, 'pass', EVIL_DNS]);
    const relayed = linesOf(relay);
    await until(() => relayed.length > 0, 'the relay never listened');
    const attach = await attachSampled(victim);
    assert.equal(attach.exitCode, ExitCode.ok, attach.stderr);
    const seen = seenBy(relayed.slice(1));
    assert.ok(seen.frames.some((frame) => frame.includes('"type":"applied"')));
    const leak = leakIn(seen.frames.join('\n'), attach.secrets);
    assert.equal(leak, undefined, `a frame carried the token: ${leak}`);
    relay.stdin?.end();
  });
});
