import assert from 'node:assert/strict';
import { applySetup, formatStep, nftables, RecordingRunner, RecordStore, type SetupOp, type Step } from '@guestnet/host-agent';
import { CommandFailedError } from '@guestnet/protocol';
import { sampleRecord, SAMPLE_RULE as rule, installed, NO_RULES as none } from '../../../fixtures/records.js';

const record = sampleRecord({ pid: 4242, dns: [], token: `guestnet:${'b'.repeat(32)}` });
const ctx = { firewall: nftables, stateDir: '/state', records: new RecordStore('/state') };

describe('applying host ops', () => {
  it('rolls back newest first when a step fails, including the failed op itself', async () => {
    class FailingOnNft extends RecordingRunner {
      override async perform(step: Step): Promise<void> {
        await super.perform(step);
        if (step.kind === 'run' && step.argv[0] === 'nft' && step.input?.includes('table ip guestnet {'))
          throw new CommandFailedError(step.argv, 'Error: Could not process rule', 1);
      }
    }
    const runner = new FailingOnNft();
    const ops: SetupOp[] = [
      { kind: 'writeRecord', record },
      { kind: 'createVeth', record },
      { kind: 'setGuestRules', before: none, after: installed(rule) },
    ];
    await assert.rejects(applySetup(ops, runner, ctx), /Could not process rule/);
    // The record, the pair and its host end (seven steps), the failed transaction; then the undo.
    const undone = runner.steps.slice(9).map((step) => formatStep(step));
    assert.deepEqual(undone, [
      "nft -f - <<'EOF'\nadd table ip guestnet\ndelete table ip guestnet\nEOF",
      'ip link del dev vm_wlan',
      'rm -f /state/attachments/4242.json',
    ]);
  });

  it('keeps the record, marked as undoing, when a step of the undo before its removal fails', async () => {
    class FailingOnLinks extends RecordingRunner {
      override async perform(step: Step): Promise<void> {
        await super.perform(step);
        if (step.kind === 'run' && step.argv[0] === 'nft' && step.input?.includes('table ip guestnet {'))
          throw new CommandFailedError(step.argv, 'Error: Could not process rule', 1);
        if (step.kind === 'run' && step.argv.join(' ') === 'ip link del dev vm_wlan')
          throw new CommandFailedError(step.argv, 'timed out after 3000 ms and was killed', 1);
      }
    }
    const runner = new FailingOnLinks();
    const store = new RecordStore('/state');
    const ops: SetupOp[] = [
      { kind: 'writeRecord', record },
      { kind: 'createVeth', record },
      { kind: 'setGuestRules', before: none, after: installed(rule) },
    ];
    await assert.rejects(
      applySetup(ops, runner, { ...ctx, records: store }),
      /Could not process rule; rolling back also failed: ip link del dev vm_wlan: timed out/,
    );
    assert.deepEqual(store.get(record.id), { ...record, undoing: true });
    assert.ok(!runner.steps.some((step) => formatStep(step) === 'rm -f /state/attachments/4242.json'));
  });

  it('writes ip_forward once the pair is made, not while the kernel is busy making it', async () => {
    class SideBySide extends RecordingRunner {
      readonly sideBySide = true;
    }
    const runner = new SideBySide();
    const ops: SetupOp[] = [
      { kind: 'writeRecord', record },
      { kind: 'createVeth', record },
      { kind: 'enableIpForward', before: '0' },
      { kind: 'setGuestRules', before: none, after: installed(rule) },
    ];
    await applySetup(ops, runner, ctx);
    const ran = runner.steps.map((s) => (s.kind === 'run' ? s.argv[0] : s.kind === 'sysctl' ? s.path : s.kind));
    assert.deepEqual(ran.slice(0, 3), ['write', 'nsenter', 'nft'], 'the firewall still goes beside the link work');
    assert.deepEqual(ran.slice(-2), ['write', '/proc/sys/net/ipv4/ip_forward'], 'ip_forward after every step of the pair');
  });

  it('runs the firewall beside the link work; a failure in either lane stops both and undoes all that was done', async () => {
    class SlowLinkFailingNft extends RecordingRunner {
      readonly sideBySide = true;
      override async perform(step: Step): Promise<void> {
        await super.perform(step);
        if (step.kind === 'run' && step.argv[0] === 'nsenter') await new Promise((r) => setTimeout(r, 20));
        if (step.kind === 'run' && step.argv[0] === 'nft' && step.input?.includes('table ip guestnet {'))
          throw new CommandFailedError(step.argv, 'Error: Could not process rule', 1);
      }
    }
    const runner = new SlowLinkFailingNft();
    const ops: SetupOp[] = [
      { kind: 'writeRecord', record },
      { kind: 'createVeth', record },
      { kind: 'enableIpForward', before: '0' },
      { kind: 'setGuestRules', before: none, after: installed(rule) },
    ];
    await assert.rejects(applySetup(ops, runner, ctx), /Could not process rule/);
    const ran = runner.steps.map((s) => (s.kind === 'run' ? s.argv[0] : s.kind));
    assert.deepEqual(
      ran.slice(0, 11),
      ['write', 'nsenter', 'nft', ...Array(5).fill('sysctl'), 'ip', 'nft', 'ip'],
      'nft ran while the pair was being made; the op under way finished, and ip_forward, after it, was not written',
    );
    assert.deepEqual(
      runner.steps.slice(9).map((step) => formatStep(step)),
      [
        "nft -f - <<'EOF'\nadd table ip guestnet\ndelete table ip guestnet\nEOF",
        'ip link del dev vm_wlan',
        'rm -f /state/attachments/4242.json',
      ],
    );
  });
});
