import { UsageError } from '@guestnet/protocol';

/** A host port whose connections go to a port of one guest, e.g. to reach adbd in it. */
export interface Forward {
  protocol: 'tcp' | 'udp';
  hostPort: number;
  guestPort: number;
}

const SPEC = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/;

function port(text: string, spec: string): number {
  const value = Number(text);
  if (value < 1 || value > 65535) throw new UsageError(`'${spec}': ports run from 1 to 65535`);
  return value;
}

/** Parses `hostPort:guestPort[/tcp|/udp]` (tcp by default). */
export function parseForward(spec: string): Forward {
  const match = SPEC.exec(spec);
  if (!match) throw new UsageError(`'${spec}' is not hostPort:guestPort[/tcp|/udp], e.g. 5555:5555/tcp`);
  return { protocol: (match[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', hostPort: port(match[1] as string, spec), guestPort: port(match[2] as string, spec) };
}

export function isForward(value: unknown): value is Forward {
  const f = value as Forward;
  return (
    typeof f === 'object' &&
    f !== null &&
    (f.protocol === 'tcp' || f.protocol === 'udp') &&
    [f.hostPort, f.guestPort].every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)
  );
}

export const describeForward = (f: Forward) => `${f.hostPort}->${f.guestPort}/${f.protocol}`;

export const sameHostPort = (a: Forward, b: Forward) => a.protocol === b.protocol && a.hostPort === b.hostPort;
