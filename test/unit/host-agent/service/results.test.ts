import assert from 'node:assert/strict';
import { attachResult, detachResultFor } from '@guestnet/host-agent';
import { newOneTimeToken } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord } from '../../../fixtures/typed-records.js';

// What the CLI and the control socket report: never the token, nor a
// one-time name made of it; a detach keyed by the pid it was given.

describe('service/results: what attach and detach report', () => {
  it('reports the record without its token, and a one-time guest end name as a placeholder', () => {
    const token = newOneTimeToken();
    const name = token.slice('guestnet:'.length);
    const result = attachResult(
      { record: sampleRecord({ token, guestIf: name }), firewall: 'nftables', changed: true, steps: [] },
      'not-waited',
    );
    const text = JSON.stringify(result);
    assert.ok(!text.includes(name), 'neither the token nor the name made of it');
    assert.equal((result.attachment as { guestIf?: string }).guestIf, '<one-time-name>');
    assert.equal('token' in result.attachment, false);
  });

  it('keeps a guest end name that is no secret, and adds none to a type without a guest link', () => {
    const plain = attachResult({ record: sampleRecord(), firewall: 'nftables', changed: false, steps: [] }, 'dry-run');
    assert.equal((plain.attachment as { guestIf?: string }).guestIf, 'vm_wlan0');
    const empty = attachResult(
      { record: joinedRecord({ type: 'empty', link: undefined }), firewall: 'nftables', changed: true, steps: [] },
      'not-waited',
    );
    assert.equal('guestIf' in empty.attachment, false);
    assert.equal(JSON.stringify(empty).includes(joinedRecord({ type: 'empty' }).token), false);
  });

  it('keys a detach by the pid it was given, not by the record id', () => {
    assert.deepEqual(detachResultFor(300, { id: '300', wasAttached: true, steps: [] }), { pid: 300, wasAttached: true, steps: [] });
  });
});
