import { tokenOfLink } from '@guestnet/protocol';
import type { GuestObserved } from './observe.js';
import { findOurLink } from './planner.js';

// Tokens followed back at most this far: a session names its link by the token it began with.
const MAX_FOLLOWED = 16;

/**
 * Which link is ours, across a new token (protocol/README.md "Rotation"):
 * the host may write a new token into our link's alias at any time, without
 * a word over the socket. A link is ours by the token it carries and, once
 * configured, by its ifindex, which a rename or a new alias keeps: the link
 * of that index that carries another token now is ours under that token.
 * Only root on the host and this netns can change a link's alias.
 */
export class OurLink {
  private configured: { token: string; index: number } | undefined;
  /** Tokens our link carried before, each to the one it carries now. */
  private readonly followed = new Map<string, string>();

  /** The ifindex of the link configured: no secret, and kept across a new token. */
  get index(): number | undefined {
    return this.configured?.index;
  }

  /** The token our link carries now, if `token` is one it carried before. */
  follow(token: string): string {
    return this.followed.get(token) ?? token;
  }

  /** The token `observed` shows on the link configured under `token`, if it is no longer `token`; undefined otherwise. */
  newTokenIn(observed: Pick<GuestObserved, 'links'>, token: string): string | undefined {
    if (findOurLink(observed, token) || this.configured?.token !== token) return undefined;
    const { index } = this.configured;
    const link = observed.links.find((l) => l.index === index);
    const now = link && tokenOfLink(link);
    return now === undefined || now === token ? undefined : now;
  }

  /** The link carrying `token` took a new one: sessions that name it by an older token find it still. */
  rotated(from: string, to: string): void {
    for (const [old, current] of this.followed) if (current === from) this.followed.set(old, to);
    this.followed.set(from, to);
    this.followed.delete(to);
    for (const old of this.followed.keys()) if (this.followed.size > MAX_FOLLOWED) this.followed.delete(old);
    if (this.configured?.token === from) this.configured = { ...this.configured, token: to };
  }

  /** A configuration under `token` is in force on the link `observed` shows carrying it. */
  applied(observed: Pick<GuestObserved, 'links'>, token: string): void {
    const index = findOurLink(observed, token)?.index;
    if (index !== undefined) this.configured = { token, index };
  }
}
