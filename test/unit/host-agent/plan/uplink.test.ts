import assert from 'node:assert/strict';
import { uplinkProblem } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

describe('uplink choice', () => {
  const records = [sampleRecord({ pid: 100, hostIf: 'vm_wlan', hostIfPrefix: 'vm_wlan' })];

  it('accepts a plain link that is no guest link', () => {
    assert.equal(uplinkProblem('wlan0', records), undefined);
    assert.equal(uplinkProblem('vm_wlanx', records), undefined, 'the prefix followed by no number is no guest link');
  });

  it('refuses loopback, a name rules cannot carry, and any guest link, attached or about to be', () => {
    assert.equal(uplinkProblem('lo', records), 'the uplink cannot be the loopback link lo; give --uplink IF');
    assert.match(uplinkProblem('wlan0;x', records) ?? '', /^the uplink's name 'wlan0;x' has characters guestnet does not put in rules/);
    assert.equal(
      uplinkProblem('vm_wlan', records),
      "the uplink cannot be vm_wlan, a guest's own link: guests would reach each other through it",
    );
    assert.match(uplinkProblem('vm_wlan7', records) ?? '', /a guest's own link/, 'a later guest of the same family');
    assert.match(uplinkProblem('ga3', [], { hostIf: 'ga3', hostIfPrefix: 'ga' }) ?? '', /a guest's own link/);
    assert.match(uplinkProblem('ga12', [], { hostIf: 'ga3', hostIfPrefix: 'ga' }) ?? '', /a guest's own link/);
  });
});
