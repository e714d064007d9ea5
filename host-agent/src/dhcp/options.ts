// DHCP options (RFC 2132): code, length, value. Read from bytes a guest sent,
// so every length is checked against the field it lies in, and nothing is
// kept but what the field holds. An option that appears more than once is one
// long option cut in pieces (RFC 3396): its pieces are joined in order.

export const Option = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dnsServers: 6,
  interfaceMtu: 26,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterList: 55,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  end: 255,
} as const;

/** Why bytes were not taken as a DHCP request: the one kind of error the codec throws. */
export class DhcpRefusal extends Error {
  constructor(readonly reason: string) {
    super(`not a DHCP request: ${reason}`);
    this.name = 'DhcpRefusal';
  }
}

/**
 * Reads the options of one field (the options area, or `file` or `sname`
 * when overloaded) into `into`. Pads are skipped; END, or the field's end,
 * stops. An option whose length runs past the field is a refusal.
 */
export function readOptions(field: Buffer, into: Map<number, Buffer[]>): void {
  let at = 0;
  while (at < field.length) {
    const code = field[at] as number;
    if (code === Option.end) return;
    if (code === Option.pad) {
      at++;
      continue;
    }
    const length = field[at + 1];
    if (length === undefined || at + 2 + length > field.length) throw new DhcpRefusal(`option ${code} runs past the end of its field`);
    const pieces = into.get(code) ?? [];
    pieces.push(field.subarray(at + 2, at + 2 + length));
    into.set(code, pieces);
    at += 2 + length;
  }
}

/** Each option's pieces joined: the value of a long option (RFC 3396). */
export function joinOptions(pieces: Map<number, Buffer[]>): Map<number, Buffer> {
  return new Map([...pieces].map(([code, parts]) => [code, Buffer.concat(parts)]));
}

/** Writes `options` as code-length-value, cutting any value longer than 255 bytes into pieces (RFC 3396); then END. */
export function writeOptions(options: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of options) {
    for (let at = 0; at < value.length || at === 0; at += 255) {
      const piece = value.subarray(at, at + 255);
      parts.push(Buffer.from([code, piece.length]), piece);
      if (value.length === 0) break;
    }
  }
  parts.push(Buffer.from([Option.end]));
  return Buffer.concat(parts);
}

export const ipv4Bytes = (address: string): Buffer => Buffer.from(address.split('.').map(Number));

export const ipv4Of = (bytes: Buffer): string => [...bytes.subarray(0, 4)].join('.');

export function uint32Bytes(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

export function uint16Bytes(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

/** The netmask of a prefix length, as an address. */
export function maskOf(prefixLength: number): string {
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
}
