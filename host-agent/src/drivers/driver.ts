import type { ExecContext, OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import type { HostObserved } from '../model/host.js';
import type { GuestSeen } from '../model/link-type.js';
import type { NicSeen } from '../model/nic.js';
import type { PortForward } from '../model/port-forward.js';
import type { AttachmentRecord, GuestIdentity } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import type { SetupOp, TeardownOp } from '../plan/ops.js';

// One driver per record type (model/record.ts): each knows what its attach
// looks at, the ops of its attach and detach, and how to say what it made.
// drivers/index.ts picks the driver once, from the record's type; the
// service has one attach path and one detach path whatever the type.

export interface AttachExtras {
  guestMac?: string;
  /** Replace a re-attached guest's forwards; unset, it keeps them. */
  forwards?: PortForward[];
  /**
   * The attach waits for the guest agent, which renames the link: a guest end of the default name is made under a
   * one-time name that is its token, which saves a process (steps.ts,
   * createVeth).
   */
  waitsForAgent?: boolean;
}

/** What an attach starts from: the request, and the guest's record if it has one (of any type). */
export interface AttachInput {
  guest: GuestIdentity;
  settings: HostSettings;
  records: readonly AttachmentRecord[];
  existing: AttachmentRecord | undefined;
  runner: Runner;
  ctx: ExecContext;
  extras: AttachExtras;
}

/** What only some types' plans need, looked at where the host observation cannot see. */
export interface AttachOptions {
  /** phys: hand over the link that carries the host's default route. */
  force?: boolean;
  /** What the guest's netns showed of an attach that may be incomplete. */
  guest?: GuestSeen | undefined;
  /** phys: why the link is not a NIC, from what the kernel says of it; unset when it is one. */
  notNic?: string | undefined;
}

/** What a driver's look before an attach found: the host as its plan needs it, and the record it wants. */
export interface Prepared<R extends AttachmentRecord> {
  observed: HostObserved;
  desired: R;
  options: AttachOptions;
}

export interface LinkDriver<R extends AttachmentRecord> {
  /** Looks at what an attach of this type depends on, and chooses the record it wants (a re-attach keeps its own). */
  prepare(input: AttachInput): Promise<Prepared<R>>;
  /** The ops from `observed` to `desired` attached; `existing`: the guest's record, of this type. Empty when it is attached. */
  planAttach(observed: HostObserved, desired: R, existing: R | undefined, options: AttachOptions): SetupOp[];
  /** The ops that take `record` away; teardown mirrors setup. `nic`: where a phys guest's NIC is now. */
  planDetach(observed: HostObserved, record: R, nic?: NicSeen): TeardownOp[];
  /** Looks, plans and removes `record`'s attachment. */
  detach(record: R, records: readonly AttachmentRecord[], runner: Runner, ctx: ExecContext): Promise<OpTiming[]>;
}
