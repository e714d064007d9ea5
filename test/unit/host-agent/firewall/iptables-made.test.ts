import assert from 'node:assert/strict';
import { type FirewallContent, type GuestRule, iptables, parseIptablesSave } from '@guestnet/host-agent';

// What iptables-nft makes for guestnet (a table, a built-in chain) is marked
// at install and removed with the last guest, only while it holds nothing of
// anyone else's; what was there before is never marked.

const rule: GuestRule = {
  hostIf: 'vm_wlan1',
  linkFamily: 'vm_wlan+',
  pool: '172.17.0.0/16',
  guestAddress: '172.17.3.3',
  gateway: '172.17.3.2',
  uplink: 'wlan0',
  openToGuests: false,
  forwards: [],
};
const one: FirewallContent = { installed: true, bridgedPorts: [], guests: [rule] };
const nftDeletes = (steps: ReturnType<ReturnType<typeof iptables>['change']>) =>
  steps.flatMap((s) => (s.kind === 'run' && s.argv[0] === 'nft' ? [s.argv.slice(1).join(' ')] : []));
const restoreInput = (steps: ReturnType<ReturnType<typeof iptables>['change']>) =>
  steps.map((s) => (s.kind === 'run' ? (s.input ?? '') : '')).join('');

describe('firewall/iptables-made: what iptables-nft made for guestnet goes with the last guest', () => {
  const nft = iptables('iptables');

  it('marks at install the tables that were absent, and the built-in chains absent from tables that were there', () => {
    // A host with nat POSTROUTING only (CNI ptp's masquerade) and no filter table.
    const builtins = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'].map((chain) => `:${chain} ACCEPT [0:0]`);
    const save = ['*nat', ...builtins, '-A POSTROUTING -s 10.22.0.0/24 -j MASQUERADE', 'COMMIT', ''].join('\n');
    const state = parseIptablesSave(save, undefined, { chains: new Set(['nat POSTROUTING']) });
    const input = restoreInput(
      nft.change({ installed: false, bridgedPorts: [], guests: [], ...(state.found ? { found: state.found } : {}) }, one),
    );
    for (const marker of ['TABLE', 'FORWARD', 'INPUT']) assert.match(input, new RegExp(`\\*filter\\n[^*]*:GUESTNET-MADE-${marker} - `));
    assert.match(input, /\*nat\n[^*]*:GUESTNET-MADE-PREROUTING - [^*]*:GUESTNET-MADE-OUTPUT - /);
    assert.doesNotMatch(input, /GUESTNET-MADE-POSTROUTING|\*nat\n[^*]*GUESTNET-MADE-TABLE/, 'what was there is never marked');
    assert.doesNotMatch(
      restoreInput(
        iptables('iptables-legacy').change(
          { installed: false, bridgedPorts: [], guests: [], ...(state.found ? { found: state.found } : {}) },
          one,
        ),
      ),
      /GUESTNET-MADE/,
    );
  });

  it('removes a marked table that holds only guestnet, and a marked built-in chain only while it is empty and accepts', () => {
    const save = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':GUESTNET-FORWARD - [0:0]',
      ':GUESTNET-MADE-TABLE - [0:0]',
      ':GUESTNET-MADE-FORWARD - [0:0]',
      '-A FORWARD -j GUESTNET-FORWARD',
      'COMMIT',
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':OUTPUT DROP [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':GUESTNET-MADE-PREROUTING - [0:0]',
      ':GUESTNET-MADE-OUTPUT - [0:0]',
      '-A POSTROUTING -s 10.22.0.0/24 -j MASQUERADE',
      'COMMIT',
      '',
    ].join('\n');
    const { found } = parseIptablesSave(save, undefined, {});
    const steps = nft.change({ ...one, ...(found ? { found } : {}) }, { installed: false, bridgedPorts: [], guests: [] });
    assert.deepEqual(nftDeletes(steps), ['delete table ip filter', 'delete chain ip nat PREROUTING'], 'OUTPUT now drops: not only ours');
    const markers = steps.flatMap((s) =>
      s.kind === 'run' && s.argv.includes('-X') && String(s.argv.at(-1)).startsWith('GUESTNET-MADE') ? [s.argv.at(-1)] : [],
    );
    assert.deepEqual(markers, ['GUESTNET-MADE-PREROUTING', 'GUESTNET-MADE-OUTPUT']);
    const busy = parseIptablesSave(
      save.replace('-A FORWARD -j GUESTNET-FORWARD', '-A FORWARD -j GUESTNET-FORWARD\n-A FORWARD -o docker0 -j ACCEPT'),
      undefined,
      {},
    );
    assert.ok(
      !nftDeletes(
        nft.change({ ...one, ...(busy.found ? { found: busy.found } : {}) }, { installed: false, bridgedPorts: [], guests: [] }),
      ).includes('delete table ip filter'),
    );
  });

  it('finds nothing to do where only absent pieces were seen', () => {
    const state = parseIptablesSave('', undefined, {});
    assert.deepEqual(
      nft.change(
        { installed: false, bridgedPorts: [], guests: [], ...(state.found ? { found: state.found } : {}) },
        { installed: false, bridgedPorts: [], guests: [] },
      ),
      [],
    );
  });
});
