import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { GUEST_AGENT, HOST_AGENT } from '../../fixtures/sandbox.js';

const scripts = new Map<string, string>();

/** What bash completes for `words` (the last one being completed), with the script the agent prints sourced. */
function complete(agent: string, words: string[]): string[] {
  const generate = () =>
    execFileSync(process.execPath, [agent === 'host-agent' ? HOST_AGENT : GUEST_AGENT, 'completion', 'bash'], { encoding: 'utf8' });
  const script = scripts.get(agent) ?? generate();
  scripts.set(agent, script);
  const fn = `_${agent.replace('-', '_')}_complete`;
  const out = execFileSync(
    'bash',
    [
      '--norc',
      '-c',
      `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      agent,
      ...words,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

describe('bash completion generated from the commander definitions', () => {
  it('host-agent: verbs, then each verb its own flags and the global ones', () => {
    assert.deepEqual(complete('host-agent', ['']), ['attach', 'detach', 'forward', 'status', 'doctor', 'serve', 'completion', 'help']);
    assert.deepEqual(complete('host-agent', ['d']), ['detach', 'doctor']);
    assert.deepEqual(complete('host-agent', ['attach', '4242', '--ti']), ['--timeout']);
    assert.deepEqual(complete('host-agent', ['attach', '--no']), ['--no-wait']);
    assert.deepEqual(complete('host-agent', ['detach', '--a']), ['--all']);
    assert.deepEqual(complete('host-agent', ['status', '--']), [
      '--wide',
      '--config',
      '--state-dir',
      '--command-timeout',
      '--version',
      '--json',
      '--verbose',
      '--log-level',
      '--help',
    ]);
    assert.deepEqual(complete('host-agent', ['serve', '--log-f']), ['--log-file', '--log-format']);
    // A flag's value is not taken for the verb.
    assert.deepEqual(complete('host-agent', ['--log-level', 'debug', 'st']), ['status']);
    assert.deepEqual(complete('host-agent', ['help', 'fo']), ['forward']);
    assert.deepEqual(complete('host-agent', ['completion', '']), ['bash']);
    assert.deepEqual(complete('host-agent', ['attach', '--timeout', '']), []);
    assert.ok(!complete('host-agent', ['serve', '--']).includes('--kill-after-op'), 'a hidden test seam is proposed');
  });

  it('host-agent: file names for flags that take a file, directories for a dir', () => {
    assert.ok(complete('host-agent', ['serve', '--log-file', '/et']).includes('/etc'));
    assert.deepEqual(complete('host-agent', ['status', '--state-dir', '/proc/sel']), ['/proc/self']);
  });

  it('guest-agent: its verbs and flags', () => {
    assert.deepEqual(complete('guest-agent', ['']), ['run', 'status', 'completion', 'help']);
    assert.deepEqual(complete('guest-agent', ['run', '--o']), ['--once']);
    assert.deepEqual(complete('guest-agent', ['status', '--status']), ['--status-file']);
  });
});
