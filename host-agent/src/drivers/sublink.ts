import { UsageError } from '@guestnet/protocol';
import type { HostObserved } from '../model/host.js';
import type { SublinkRecord } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { lookIntoGuest } from '../net/links.js';
import type { SetupOp, TeardownOp } from '../plan/ops.js';
import type { AttachOptions, LinkDriver } from './driver.js';
import { baseOf, detachOnce, forgetting, joinedLinkOf, linkOf, observeParent, refuseJoined, sameType } from './joined.js';

// macvlan, ipvlan and vlan: a link made from a parent on the host, tagged
// and moved into the guest in one process (exec/typed-steps.ts). The three
// differ only in the kernel's link type and its one setting.

type Sublink<T extends SublinkRecord['type']> = Extract<SublinkRecord, { type: T }>;

function planAttach(
  observed: HostObserved,
  desired: SublinkRecord,
  existing: SublinkRecord | undefined,
  options: AttachOptions,
): SetupOp[] {
  refuseJoined(observed, desired, existing);
  // An attach cut short is completed where the guest is seen without its link; the guest's
  // addresses and routes are the agent's to see.
  if (existing) return options.guest?.ourLink === false ? [{ kind: 'createSublink', record: existing }] : [];
  return [
    { kind: 'writeRecord', record: desired },
    { kind: 'createSublink', record: desired },
  ];
}

const planDetach = (observed: HostObserved, record: SublinkRecord): TeardownOp[] => [
  { kind: 'deleteSublinks', record },
  ...forgetting(observed, record),
];

/** The driver of one sublink type; `setting`: the field only that type has, from the settings. */
function sublinkDriver<T extends SublinkRecord['type']>(
  type: T,
  setting: (settings: HostSettings) => Omit<Sublink<T>, keyof SublinkRecord>,
): LinkDriver<Sublink<T>> {
  return {
    async prepare(input) {
      const observed = await observeParent(input);
      const base = baseOf(input, true);
      const { fields } = await joinedLinkOf(input, observed, sameType<Sublink<T>>(input, type), undefined, base.token);
      const desired = { ...base, type, link: linkOf(input.settings), ...setting(input.settings), ...fields } as Sublink<T>;
      // A re-attach looks into the guest: a link it lost is made again, as a restart's recovery would.
      const existing = sameType<Sublink<T>>(input, type);
      return { observed, desired, options: existing ? { guest: await lookIntoGuest(input.runner, existing) } : {} };
    },
    planAttach,
    planDetach,
    detach: (record, records, runner, ctx) => detachOnce(record, { links: [], firewall: false }, planDetach, records, runner, ctx),
  };
}

export const macvlanDriver = sublinkDriver('macvlan', (s) => ({ macvlanMode: s.macvlanMode }));
export const ipvlanDriver = sublinkDriver('ipvlan', (s) => ({ ipvlanMode: s.ipvlanMode }));
export const vlanDriver = sublinkDriver('vlan', (s) => {
  if (s.vlanId === undefined) throw new UsageError('--type vlan needs --vlan-id');
  return { vlanId: s.vlanId };
});
