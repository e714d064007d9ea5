import { checkIPv4 } from '@guestnet/protocol';

/** A host port whose connections go to a port of one guest, e.g. to reach adbd in it. */
export interface PortForward {
  protocol: 'tcp' | 'udp';
  hostPort: number;
  guestPort: number;
  /** Only connections to this host address (a runtime's hostIP); unset: every host address. */
  hostAddress?: string;
}

const SPEC = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/;

/** Parses `hostPort:guestPort[/tcp|/udp]` (tcp by default); a reason when it is not one. */
export function parsePortForward(spec: string): PortForward | string {
  const match = SPEC.exec(spec);
  if (!match) return `'${spec}' is not hostPort:guestPort[/tcp|/udp], e.g. 5555:5555/tcp`;
  const [hostPort, guestPort] = [Number(match[1]), Number(match[2])];
  if ([hostPort, guestPort].some((p) => p < 1 || p > 65535)) return `'${spec}': ports run from 1 to 65535`;
  return { protocol: (match[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', hostPort, guestPort };
}

export function isPortForward(value: unknown): value is PortForward {
  const f = value as PortForward;
  return (
    typeof f === 'object' &&
    f !== null &&
    (f.protocol === 'tcp' || f.protocol === 'udp') &&
    [f.hostPort, f.guestPort].every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) &&
    (f.hostAddress === undefined || checkIPv4(f.hostAddress).ok)
  );
}

export const describePortForward = (f: PortForward) =>
  `${f.hostAddress === undefined ? '' : `${f.hostAddress}:`}${f.hostPort}->${f.guestPort}/${f.protocol}`;

/** Whether two forwards would take the same connections: one protocol and port, and addresses that meet. */
export const sameHostPort = (a: PortForward, b: PortForward) =>
  a.protocol === b.protocol &&
  a.hostPort === b.hostPort &&
  (a.hostAddress === undefined || b.hostAddress === undefined || a.hostAddress === b.hostAddress);

/** Whether two forwards are the same one: protocol, ports and host address. */
export const samePortForward = (a: PortForward, b: PortForward) =>
  a.protocol === b.protocol && a.hostPort === b.hostPort && a.guestPort === b.guestPort && a.hostAddress === b.hostAddress;

/** Whether two lists hold the same forwards, in any order. */
export const sameForwards = (a: readonly PortForward[], b: readonly PortForward[]) =>
  a.length === b.length && a.every((f) => b.some((g) => samePortForward(f, g)));
