import { open, readlink, stat } from 'node:fs/promises';
import { checkIfName, newToken, tokenOfLink } from '@guestnet/protocol';
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
async function linkCarrying(runner: Reader, record: AttachmentRecord, netnsPath: string): Promise<string | undefined> {
  const shown = await runner.read(['nsenter', `--net=${netnsPath}`, 'ip', '-j', 'link', 'show']).catch(() => undefined);
  if (shown === undefined) return undefined;
  const links = JSON.parse(shown) as Array<{ ifname: string; ifalias?: string }>;
  const name = links.find((link) => tokenOfLink({ name: link.ifname, alias: link.ifalias }) === record.token)?.ifname;
  // The guest names its links: one an ip -batch line cannot name (a quote, say) is none to rotate.
  return name !== undefined && checkIfName(name).ok ? name : undefined;
}

/** A guest's netns held open while a rotation works in it, and the path its processes enter it by. */
export interface PinnedNetns {
  path: string;
  release(): Promise<void>;
}

/**
 * The netns at the record's path, if it is still the record's, held open by
 * this process, whose fd the rotation's processes enter it through. The pid
 * in that path may exit while the guest's netns lives on, and its number go
 * to a process of another netns (the host's, another guest's): nothing is
 * then written through it, and a pid reused after the check cannot point a
 * later step elsewhere.
 */
export async function pinNetns(record: AttachmentRecord): Promise<PinnedNetns | undefined> {
  const handle = await open(record.netnsPath, 'r').catch(() => undefined);
  if (!handle) return undefined;
  const netnsOf = (s: { ino: number }) => `net:[${s.ino}]`;
  // Our pid as /proc counts it, which in another pid namespace's procfs is not process.pid.
  const path = `/proc/${await readlink('/proc/self').catch(() => process.pid)}/fd/${handle.fd}`;
  const [held, throughPath] = await Promise.all([handle.stat().then(netnsOf, () => undefined), stat(path).then(netnsOf, () => undefined)]);
  if (held !== record.netns || throughPath !== held) {
    await handle.close();
    return undefined;
  }
  return { path, release: () => handle.close() };
}

export interface Rotation {
  token: string;
  steps: OpTiming[];
}

/**
 * Gives the guest of `record` (as its record file holds it) a new token. The
 * record goes first: the store has it before the guest's link shows it.
 * Undefined when the guest shows no link with its token, or its netns is no
 * longer at the record's path: there is nothing to rotate.
 *
 * `confirmedName`: the name the guest's agent confirmed giving its link under
 * this token. It spares the look; should the link no longer bear it, the
 * alias fails and a look finds the link. Only the guest's own netns is
 * touched either way (pinNetns): a guest that renamed its links since can
 * misdirect only its own token, as it could by moving the alias itself.
 */
export async function rotateToken(
  record: AttachmentRecord,
  runner: Runner,
  ctx: ExecContext,
  confirmedName?: string,
  pin: (record: AttachmentRecord) => Promise<PinnedNetns | undefined> = pinNetns,
): Promise<Rotation | undefined> {
  if (!hasGuestLink(record)) return undefined;
  const netns = await pin(record);
  if (!netns) return undefined;
  try {
    // The agent may be renaming the link just then, on its first configure: one more look finds it under its new name.
    const attempts = confirmedName === undefined ? 2 : 3;
    for (let attempt = 0; ; attempt++) {
      const name = attempt === 0 && confirmedName !== undefined ? confirmedName : await linkCarrying(runner, record, netns.path);
      if (name === undefined) return undefined;
      const rotated = { ...record, token: newToken() };
      const ops: SetupOp[] = [
        { kind: 'updateRecords', before: [record], after: [rotated] },
        { kind: 'setGuestAlias', record: rotated, netnsPath: netns.path, name, alias: rotated.token, before: record.token },
      ];
      try {
        return { token: rotated.token, steps: await applySetup(ops, runner, ctx) };
      } catch (error) {
        if (attempt + 1 >= attempts) throw error;
      }
    }
  } finally {
    await netns.release();
  }
}
