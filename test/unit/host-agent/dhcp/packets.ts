import type { DhcpGuest } from '@guestnet/host-agent';

// Requests as clients send them, built by hand from RFC 2131's layout, for the
// DHCP unit tests; and a small deterministic generator for the fuzz tests.

export const GUEST: DhcpGuest = {
  link: 'vm_wlan',
  mac: '02:67:6e:11:03:03',
  address: '172.17.3.3',
  prefixLength: 16,
  gateway: '172.17.3.2',
  mtu: 1400,
  dns: ['172.17.3.2'],
};

export interface RequestFields {
  op?: number;
  htype?: number;
  hlen?: number;
  hops?: number;
  xid?: number;
  flags?: number;
  ciaddr?: string;
  giaddr?: string;
  chaddr?: string;
  cookie?: number;
  /** The options area, END included or not, exactly as given. */
  options?: number[];
  sname?: number[];
  file?: number[];
}

const bytesOf = (address: string) => address.split('.').map(Number);

/** A DHCP message with `fields`; by default a DISCOVER from GUEST's MAC. */
export function request(fields: RequestFields = {}): Buffer {
  const packet = Buffer.alloc(240);
  packet[0] = fields.op ?? 1;
  packet[1] = fields.htype ?? 1;
  packet[2] = fields.hlen ?? 6;
  packet[3] = fields.hops ?? 0;
  packet.writeUInt32BE(fields.xid ?? 0x1234abcd, 4);
  packet.writeUInt16BE(fields.flags ?? 0, 10);
  Buffer.from(bytesOf(fields.ciaddr ?? '0.0.0.0')).copy(packet, 12);
  Buffer.from(bytesOf(fields.giaddr ?? '0.0.0.0')).copy(packet, 24);
  Buffer.from((fields.chaddr ?? GUEST.mac).split(':').map((h) => Number.parseInt(h, 16))).copy(packet, 28);
  Buffer.from(fields.sname ?? []).copy(packet, 44);
  Buffer.from(fields.file ?? []).copy(packet, 108);
  packet.writeUInt32BE(fields.cookie ?? 0x63825363, 236);
  return Buffer.concat([packet, Buffer.from(fields.options ?? [53, 1, 1, 255])]);
}

/** Options for a message of `type`, with more options before END. */
export const withType = (type: number, ...more: number[]) => [53, 1, type, ...more, 255];
export const addressOption = (code: number, address: string) => [code, 4, ...bytesOf(address)];

/** A small, seeded generator (mulberry32): the same inputs on every run, so a failure can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytesFrom(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
