import { GuestWithholdsError, NameTakenError, UsageError } from '@guestnet/protocol';
import { applyTeardown, type OpTiming } from '../exec/apply.js';
import type { HostObserved } from '../model/host.js';
import { isRestorableAlias } from '../model/link-type.js';
import type { NicSeen } from '../model/nic.js';
import { guestLabel, type PhysRecord } from '../model/record.js';
import { locateNic, physState } from '../net/links.js';
import { observeHost } from '../observe.js';
import { passingName } from '../plan/link-types.js';
import type { SetupOp, TeardownOp } from '../plan/ops.js';
import { currentUplink } from '../plan/planner.js';
import { guestAlive } from '../observe.js';
import type { AttachOptions, LinkDriver } from './driver.js';
import { baseOf, forgetting, joinedLinkOf, linkOf, observeParent, refuseJoined, sameType } from './joined.js';

// A NIC of the host handed to the guest, and given back with its name,
// addresses, MTU and state. Only hardware: detach finds the NIC again by what
// the guest cannot change (model/nic.ts).

/**
 * A fetch, a look, then the restore; a guest that keeps swapping links under
 * the NIC's feet is sent its links back each time, and is told it withholds
 * the NIC once these rounds are spent.
 */
const ROUNDS = 4;

function planAttach(observed: HostObserved, desired: PhysRecord, existing: PhysRecord | undefined, options: AttachOptions): SetupOp[] {
  refuseJoined(observed, desired, existing);
  for (const other of observed.records)
    if (other.id !== desired.id && other.type === 'phys' && other.link === desired.link)
      throw new NameTakenError(`${desired.link} is already handed to the guest of ${guestLabel(other)}`);
  if (existing) {
    // A NIC still on the host is handed over only if it is the recorded one (records of older versions know no identity).
    const onHost = observed.links.has(existing.link) && observed.aliases.get(existing.link) !== existing.token;
    return onHost && (existing.phys.nic === undefined || options.guest?.nicOnHost === true) ? [{ kind: 'movePhys', record: existing }] : [];
  }
  if (desired.link === currentUplink(observed) && options.force !== true)
    throw new UsageError(
      `${desired.link} carries the host's default route; handing it over would cut the host off (--force to do it anyway)`,
    );
  if (!isRestorableAlias(desired.phys.alias))
    throw new UsageError(
      `--link ${desired.link} has an alias guestnet could not give back (a quote, backslash or newline, or over 200 characters); change it first`,
    );
  if (options.notNic !== undefined)
    throw new UsageError(`--link ${desired.link} is not a NIC: ${options.notNic}; --type phys hands over hardware only`);
  return [
    { kind: 'writeRecord', record: desired },
    { kind: 'movePhys', record: desired },
  ];
}

/**
 * One round of taking the NIC back, from where it is now (`nic`). The NIC is
 * fetched from the guest under our passing name, and detach looks again:
 * only a link that is the NIC is then renamed and given its saved addresses,
 * MTU and state, and anything else that came is sent back. While the NIC's
 * name on the host belongs to another link (the uplink, in a damaged
 * record), nothing moves and nothing is restored, and the record stays while
 * the guest lives. The record goes with the round that restores the NIC, or
 * with its guest; a guest that lives without the NIC withholds it, and keeps
 * the record.
 */
function planDetach(observed: HostObserved, record: PhysRecord, nic?: NicSeen): TeardownOp[] {
  if (!nic) throw new Error(`detaching ${guestLabel(record)} needs to know where its NIC is`);
  const { link } = record;
  const uplink = currentUplink(observed);
  const forget = forgetting(observed, record);
  if (nic.impostor !== undefined) return [{ kind: 'sendBackPhys', record, name: nic.impostor, guestAlive: nic.guestAlive }];
  const found = nic.onHost ?? nic.inGuest;
  if (found === undefined) {
    if (!nic.guestAlive) return forget;
    throw new GuestWithholdsError(
      `NIC withheld by the guest: ${guestLabel(record)} has no link that is ${link}; ` +
        'the record is kept, and detach takes it back once the guest holds it again',
    );
  }
  const taken = (observed.links.has(link) && nic.onHost !== link) || link === uplink || nic.onHost === uplink;
  // A guest that is gone cannot hold its NIC, and nothing can be restored: the NIC stays where the kernel put it.
  if (taken && !nic.guestAlive) return forget;
  if (taken)
    throw new NameTakenError(
      `${link} is another link on the host now${link === uplink ? ' (the uplink)' : ''}: the NIC of ${guestLabel(record)} stays ` +
        `${nic.onHost === undefined ? 'in the guest' : `here as ${nic.onHost}`}, and the record is kept`,
    );
  return nic.onHost !== undefined
    ? [{ kind: 'restorePhys', record, name: nic.onHost }, ...forget]
    : [{ kind: 'fetchPhys', record, from: found }];
}

export const physDriver: LinkDriver<PhysRecord> = {
  async prepare(input) {
    const link = linkOf(input.settings);
    const existing = sameType<PhysRecord>(input, 'phys');
    const seen = input.existing ? undefined : await physState(input.runner, link);
    const phys = existing?.phys ?? seen?.before;
    if (!phys) throw new UsageError(`--link ${link} does not exist on the host`);
    const observed = await observeParent(input);
    const base = baseOf(input, true);
    const { fields } = await joinedLinkOf(input, observed, existing, phys.mtu, base.token);
    const desired: PhysRecord = { ...base, type: 'phys', link, phys, ...fields };
    return { observed, desired, options: { force: input.settings.force, notNic: seen?.notNic } };
  },
  planAttach,
  planDetach,
  /**
   * The NIC comes back in rounds: each looks for it by its identity, and
   * applies its ops one by one, stopping at the first failure, so the record
   * stays until the NIC is back.
   */
  async detach(record, records, runner, ctx) {
    const steps: OpTiming[] = [];
    const passing = passingName(record);
    for (let round = 0; round < ROUNDS; round++) {
      const [observed, alive] = await Promise.all([
        observeHost(runner, ctx.stateDir, ctx.firewall, records, { links: [record.link], firewall: false }),
        guestAlive(record),
      ]);
      const ops = planDetach(observed, record, await locateNic(runner, record, { guestAlive: alive, passing }));
      for (const op of ops) steps.push(...(await applyTeardown([op], runner, ctx)));
      if (ops.length === 0 || ops.some((op) => op.kind === 'restorePhys' || op.kind === 'deleteRecord') || runner.dryRun) return steps;
    }
    throw new GuestWithholdsError(
      `NIC withheld by the guest: ${guestLabel(record)} kept putting other links where ${record.link} was; the record is kept`,
    );
  },
};
