import { createHash } from 'node:crypto';
import { typeOf } from '../model/link-type.js';
import { type AttachmentRecord, HOST_LINK_GROUP } from '../model/record.js';
import type { Step } from '../model/step.js';

// The steps of the network types other than the routed veth (see
// plan/link-types.ts). Links made for a guest inside its netns carry
// HOST_LINK_GROUP, so teardown deletes them by group whatever the guest
// has renamed them to.

/** The netns the agent runs in: the host's. */
const HOST_NETNS = `/proc/${process.pid}/ns/net`;
const GUEST_GONE = /No such file or directory|Cannot find device|does not exist|Cannot open network namespace/;

const inGuest = (r: AttachmentRecord, ...argv: string[]) => ['nsenter', `--net=${r.netnsPath}`, ...argv];

/** A short name for the moment a new link spends in the host's netns before it moves. */
const passingName = (r: AttachmentRecord) => `gn${createHash('sha256').update(r.id).digest('hex').slice(0, 12)}`;

const KERNEL_CONFIG: Record<string, string> = { macvlan: 'CONFIG_MACVLAN', ipvlan: 'CONFIG_IPVLAN', vlan: 'CONFIG_VLAN_8021Q' };

function sublinkType(r: AttachmentRecord): string {
  switch (typeOf(r)) {
    case 'macvlan':
      return `address ${r.guestMac} group ${HOST_LINK_GROUP} type macvlan mode ${r.macvlanMode ?? 'bridge'}`;
    case 'ipvlan':
      // An ipvlan shares its parent's MAC.
      return `group ${HOST_LINK_GROUP} type ipvlan mode ${r.ipvlanMode ?? 'l2'}`;
    default:
      return `address ${r.guestMac} group ${HOST_LINK_GROUP} type vlan id ${r.vlanId ?? 0}`;
  }
}

export const typedSteps = {
  // Made, tagged and moved in one process: the guest agent, woken by the link's arrival, finds it tagged.
  createSublink: ({ record: r }: { record: AttachmentRecord }): Step[] => {
    const name = passingName(r);
    return [
      {
        kind: 'run',
        argv: ['ip', '-batch', '-'],
        input: [
          `link add link ${r.link} name ${name} ${sublinkType(r)}`,
          `link set dev ${name} alias ${r.token}`,
          `link set dev ${name} netns ${r.netnsPath} name ${r.guestIf}`,
          '',
        ].join('\n'),
        unsupported: {
          when: /Unknown device type|Operation not supported/,
          message: `this kernel has no ${typeOf(r)} links (${KERNEL_CONFIG[typeOf(r)] ?? typeOf(r)}); nothing was changed`,
        },
      },
    ];
  },
  deleteSublinks: ({ record: r }: { record: AttachmentRecord }): Step[] => [
    { kind: 'run', argv: inGuest(r, 'ip', 'link', 'del', 'group', String(HOST_LINK_GROUP)), tolerate: GUEST_GONE },
  ],

  movePhys: ({ record: r }: { record: AttachmentRecord }): Step[] => [
    {
      kind: 'run',
      argv: ['ip', '-batch', '-'],
      input: `link set dev ${r.link} alias ${r.token}\nlink set dev ${r.link} netns ${r.netnsPath} name ${r.guestIf}\n`,
    },
  ],
  returnPhys: ({ record: r, foundAs }: { record: AttachmentRecord; foundAs?: string }): Step[] => {
    const name = r.link as string;
    const before = r.phys ?? { addresses: [], up: false, mtu: r.mtu, alias: '' };
    // Under the agent's name or the one it arrived with; -force goes on past the one that is not there.
    const back: Step = foundAs
      ? { kind: 'run', argv: ['ip', 'link', 'set', 'dev', foundAs, 'down', 'name', name], tolerate: /Cannot find device/ }
      : {
          kind: 'run',
          argv: inGuest(r, 'ip', '-force', '-batch', '-'),
          input:
            `link set dev ${r.guestName} down\n` +
            `link set dev ${r.guestName} netns ${HOST_NETNS} name ${name}\n` +
            `link set dev ${r.guestIf} netns ${HOST_NETNS} name ${name}\n`,
          tolerate: GUEST_GONE,
        };
    const restore: Step = {
      kind: 'run',
      argv: ['ip', '-force', '-batch', '-'],
      input: [
        `link set dev ${name} alias "${before.alias}"`,
        `link set dev ${name} mtu ${before.mtu}`,
        ...before.addresses.map((a) => `address replace ${a} dev ${name}`),
        `link set dev ${name} up`,
        '',
      ].join('\n'),
      tolerate: /Cannot find device/,
    };
    return [back, restore];
  },

  setLoopbackUp: ({ record: r }: { record: AttachmentRecord }): Step[] => [
    { kind: 'run', argv: inGuest(r, 'ip', 'link', 'set', 'dev', 'lo', 'up') },
  ],
  setLoopbackDown: ({ record: r }: { record: AttachmentRecord }): Step[] => [
    { kind: 'run', argv: inGuest(r, 'ip', 'link', 'set', 'dev', 'lo', 'down'), tolerate: GUEST_GONE },
  ],
};
