import { newToken, tokenOfLink } from '@guestnet/protocol';
import { applySetup, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { type AttachmentRecord, hasGuestLink } from '../model/record.js';
import type { Reader } from '../model/step.js';
import type { SetupOp } from '../plan/ops.js';

// A token is rotated at every re-attach, and whenever one turns up where it
// should not (protocol/README.md "Rotation"): the new one goes into the alias
// of the guest's link, in its netns, and into the record, as one change that
// is undone if either half fails. The guest agent finds its link under the
// new token by itself, and its session lives on.

/** The name of the guest's link that carries the record's token, as its alias or its one-time name. */
async function linkCarrying(runner: Reader, record: AttachmentRecord): Promise<string | undefined> {
  const shown = await runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-j', 'link', 'show']).catch(() => undefined);
  if (shown === undefined) return undefined;
  const links = JSON.parse(shown) as Array<{ ifname: string; ifalias?: string }>;
  return links.find((link) => tokenOfLink({ name: link.ifname, alias: link.ifalias }) === record.token)?.ifname;
}

export interface Rotation {
  token: string;
  steps: OpTiming[];
}

/**
 * Gives the guest of `record` (as its record file holds it) a new token. The
 * record goes first: the store has it before the guest's link shows it.
 * Undefined when the guest shows no link with its token: there is nothing to rotate.
 *
 * `confirmedName`: the name the guest's agent confirmed giving its link under
 * this token. It spares the look; should the link no longer bear it, the
 * alias fails and a look finds the link. Only the guest's own netns is
 * touched either way: a guest that renamed its links since can misdirect
 * only its own token, as it could by moving the alias itself.
 */
export async function rotateToken(
  record: AttachmentRecord,
  runner: Runner,
  ctx: ExecContext,
  confirmedName?: string,
): Promise<Rotation | undefined> {
  if (!hasGuestLink(record)) return undefined;
  // The agent may be renaming the link just then, on its first configure: one more look finds it under its new name.
  const attempts = confirmedName === undefined ? 2 : 3;
  for (let attempt = 0; ; attempt++) {
    const name = attempt === 0 && confirmedName !== undefined ? confirmedName : await linkCarrying(runner, record);
    if (name === undefined) return undefined;
    const rotated = { ...record, token: newToken() };
    const ops: SetupOp[] = [
      { kind: 'updateRecords', before: [record], after: [rotated] },
      { kind: 'setGuestAlias', record: rotated, name, alias: rotated.token, before: record.token },
    ];
    try {
      return { token: rotated.token, steps: await applySetup(ops, runner, ctx) };
    } catch (error) {
      if (attempt + 1 >= attempts) throw error;
    }
  }
}
