import { oneTimeNameOf } from '@guestnet/protocol';
import { type AttachmentRecord, type EmptyRecord, HOST_LINK_GROUP, type PhysRecord, type SublinkRecord } from '../model/record.js';
import { IP_BATCH, type Step } from '../model/step.js';
import { passingName } from '../plan/link-types.js';
import { portGuardSteps } from './port-guard.js';

// The steps of the network types other than the routed veth (see
// plan/link-types.ts). Links made for a guest inside its netns carry
// HOST_LINK_GROUP, so teardown deletes them by group whatever the guest
// has renamed them to.

/** The netns the agent runs in: the host's. */
const HOST_NETNS = `/proc/${process.pid}/ns/net`;
const GUEST_GONE = /No such file or directory|Cannot find device|does not exist|Cannot open network namespace/;
const GROUP_EMPTY_OR_GUEST_GONE = new RegExp(`${GUEST_GONE.source}|No such device`);

/** Every line of a send-back's errors is one of the two ways it is done: the guest would not take it, or it was gone. */
const SENT_BACK =
  /^(?:(?:RTNETLINK answers: File exists|Error: An interface with the same name exists[^\n]*|Cannot find device[^\n]*|Command failed[^\n]*)(?:\n|$))+$/;

const inGuest = (r: AttachmentRecord, ...argv: string[]) => ['nsenter', `--net=${r.netnsPath}`, ...argv];

const KERNEL_CONFIG: Record<SublinkRecord['type'], string> = {
  macvlan: 'CONFIG_MACVLAN',
  ipvlan: 'CONFIG_IPVLAN',
  vlan: 'CONFIG_VLAN_8021Q',
};

function sublinkType(r: SublinkRecord): string {
  switch (r.type) {
    case 'macvlan':
      return `address ${r.guestMac} group ${HOST_LINK_GROUP} type macvlan mode ${r.macvlanMode}`;
    case 'ipvlan':
      // An ipvlan shares its parent's MAC.
      return `group ${HOST_LINK_GROUP} type ipvlan mode ${r.ipvlanMode}`;
    case 'vlan':
      return `address ${r.guestMac} group ${HOST_LINK_GROUP} type vlan id ${r.vlanId}`;
  }
}

export const typedSteps = {
  // Tagged on arrival: the guest agent, woken by the link's arrival, finds it tagged. Every process of the host's
  // netns may hear its link events, so no token is set there. A link that arrives under its one-time name carries
  // its token by that name alone, and is made in the guest's netns, as CNI's macvlan makes its link: the kernel
  // looks its parent up in the host's netns, no event of the host's netns names it, a move between netns (which
  // costs the kernel far more than a link made in place) is spared, and the guest sees it arrive in one event
  // under the name it keeps. A link of a lasting name needs its alias, which the kernel takes only once the link
  // exists: it is made on the host under our passing name and moved, the alias in the same message as the move,
  // which the kernel sets once the link is in the guest's netns.
  createSublink: ({ record: r }: { record: SublinkRecord }): Step[] => {
    const inPlace = oneTimeNameOf(r.token) === r.guestIf;
    const name = passingName(r);
    const input = inPlace
      ? [`link add link ${r.link} name ${r.guestIf} netns ${r.netnsPath} ${sublinkType(r)}`, '']
      : [
          `link add link ${r.link} name ${name} ${sublinkType(r)}`,
          `link set dev ${name} netns ${r.netnsPath} name ${r.guestIf} alias ${r.token}`,
          '',
        ];
    return [
      {
        kind: 'run',
        argv: [...IP_BATCH],
        spare: 'ip-batch',
        input: input.join('\n'),
        unsupported: {
          when: /Unknown device type|Operation not supported/,
          message: `this kernel has no ${r.type} links (${KERNEL_CONFIG[r.type]}); nothing was changed`,
        },
      },
    ];
  },
  // The kernel deletes a group whole or not at all, and the guest is root in its netns: lo put into our group
  // would keep its sublink on the host's LAN. lo goes back to its own group first, in the same process; a group
  // with no link left says "No such device": already gone, as a guest that is.
  deleteSublinks: ({ record: r }: { record: SublinkRecord }): Step[] => [
    {
      kind: 'run',
      argv: inGuest(r, 'ip', '-force', '-batch', '-'),
      input: `link set dev lo group default\nlink del group ${HOST_LINK_GROUP}\n`,
      tolerate: GROUP_EMPTY_OR_GUEST_GONE,
    },
  ],

  // The token marks the NIC, for detach to find it where the kernel returns it when the guest's netns dies. It
  // goes in with the move, in one message: the kernel moves the NIC first and sets the alias in the guest's netns,
  // so no event of the host's netns carries it.
  movePhys: ({ record: r }: { record: PhysRecord }): Step[] => [
    {
      kind: 'run',
      argv: [...IP_BATCH],
      spare: 'ip-batch',
      input: `link set dev ${r.link} netns ${r.netnsPath} name ${r.guestIf} alias ${r.token}\n`,
    },
  ],
  // A NIC is moved only after detach found it by its identity, and only under our passing name: a link
  // the guest renamed in between arrives under that name, is seen not to be the NIC, and goes back.
  // A name the guest chose is one argument, never a line of a batch; moving a link takes it down.
  // The kernel keeps a link's alias, and its name where the host has none such, as it changes netns, and
  // every process of the host's netns hears it arrive: inside the guest's netns first, the token in the
  // alias gives way to our passing name as the mark, and a one-time name to the passing name.
  fetchPhys: ({ record: r, from }: { record: PhysRecord; from: string }): Step[] => {
    const passing = passingName(r);
    const oneTime = oneTimeNameOf(r.token) === from;
    const moving = oneTime ? passing : from;
    return [
      {
        kind: 'run',
        argv: inGuest(r, 'ip', 'link', 'set', 'dev', from, ...(oneTime ? ['name', passing] : []), 'alias', passing),
        tolerate: GUEST_GONE,
      },
      { kind: 'run', argv: inGuest(r, 'ip', 'link', 'set', 'dev', moving, 'netns', HOST_NETNS, 'name', passing), tolerate: GUEST_GONE },
    ];
  },
  // Onto the NIC alone, under the name it has now, which detach checked; our mark goes last, so a
  // restore cut short is found and finished by the next detach.
  restorePhys: ({ record: r, name }: { record: PhysRecord; name: string }): Step[] => {
    const { link, phys: before } = r;
    const rename: Step[] = name === link ? [] : [{ kind: 'run', argv: ['ip', 'link', 'set', 'dev', name, 'down', 'name', link] }];
    return [
      ...rename,
      {
        kind: 'run',
        argv: ['ip', '-batch', '-'],
        input: [
          `link set dev ${link} mtu ${before.mtu}`,
          ...before.addresses.map((a) => `address replace ${a} dev ${link}`),
          `link set dev ${link} ${before.up ? 'up' : 'down'}`,
          `link set dev ${link} alias "${before.alias}"`,
          '',
        ].join('\n'),
      },
    ];
  },
  // Back to the guest it came from; where the guest cannot take it (a link of that name is there, or
  // the guest is gone), it is deleted: no link a guest slipped in stays on the host.
  sendBackPhys: ({ record: r, name, guestAlive }: { record: PhysRecord; name: string; guestAlive: boolean }): Step[] => [
    {
      kind: 'run',
      argv: ['ip', '-force', '-batch', '-'],
      input: `${guestAlive ? `link set dev ${name} netns ${r.netnsPath}\n` : ''}link del dev ${name}\n`,
      tolerate: SENT_BACK,
    },
  ],
  // The undo of a handover that failed. The kernel moves the NIC before it renames it, so a handover can fail
  // with the NIC in the guest (which held a link of the name it was to take): a NIC missing here is not taken
  // as done, and the record stays, marked undoing, for detach to find the NIC by its identity and take it back.
  unmarkPhys: ({ record: r }: { record: PhysRecord }): Step[] => [
    { kind: 'run', argv: ['ip', 'link', 'set', 'dev', r.link, 'alias', r.phys.alias] },
  ],
  ...portGuardSteps,

  setLoopbackUp: ({ record: r }: { record: EmptyRecord }): Step[] => [
    { kind: 'run', argv: inGuest(r, 'ip', 'link', 'set', 'dev', 'lo', 'up'), guestOnly: true },
  ],
  setLoopbackDown: ({ record: r }: { record: EmptyRecord }): Step[] => [
    { kind: 'run', argv: inGuest(r, 'ip', 'link', 'set', 'dev', 'lo', 'down'), tolerate: GUEST_GONE, guestOnly: true },
  ],
};
