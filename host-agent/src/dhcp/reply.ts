import type { DhcpGuest, LeaseTiming } from './guest.js';
import { ipv4Bytes, maskOf, Option, uint16Bytes, uint32Bytes, writeOptions } from './options.js';
import { COOKIE, HEADER_BYTES, type MessageType } from './wire.js';

// A server's reply: the request's header echoed where RFC 2131 table 3 says
// so, then the options. Built only from the guest's lookup and the request's
// xid, flags, ciaddr and chaddr; nothing else of the request is copied.

/** BOOTP's minimum message: some clients drop anything shorter. */
const MIN_REPLY_BYTES = 300;
/** Enough resolvers for any guest; a longer list from the lookup is cut, so a reply stays small. */
const MAX_DNS = 8;

export interface DhcpReply {
  type: typeof MessageType.offer | typeof MessageType.ack | typeof MessageType.nak;
  xid: number;
  flags: number;
  chaddr: string;
  ciaddr: string;
  yiaddr: string;
  serverId: string;
  options: ReadonlyArray<readonly [number, Buffer]>;
}

/** The options that configure a guest: mask, router, resolvers, MTU. */
export function configOptions(guest: DhcpGuest): Array<[number, Buffer]> {
  const options: Array<[number, Buffer]> = [
    [Option.subnetMask, ipv4Bytes(maskOf(guest.prefixLength))],
    [Option.router, ipv4Bytes(guest.gateway)],
  ];
  const dns = guest.dns.slice(0, MAX_DNS);
  if (dns.length > 0) options.push([Option.dnsServers, Buffer.concat(dns.map(ipv4Bytes))]);
  options.push([Option.interfaceMtu, uint16Bytes(guest.mtu)]);
  return options;
}

/** The lease's times: its length, renewal (T1) and rebinding (T2). */
export function leaseOptions(timing: LeaseTiming): Array<[number, Buffer]> {
  const { leaseSeconds } = timing;
  return [
    [Option.leaseTime, uint32Bytes(leaseSeconds)],
    [Option.renewalTime, uint32Bytes(Math.floor(leaseSeconds / 2))],
    [Option.rebindingTime, uint32Bytes(Math.floor((leaseSeconds * 7) / 8))],
  ];
}

export function buildReply(reply: DhcpReply): Buffer {
  const header = Buffer.alloc(HEADER_BYTES + 4);
  header[0] = 2; // BOOTREPLY
  header[1] = 1; // Ethernet
  header[2] = 6;
  header.writeUInt32BE(reply.xid >>> 0, 4);
  header.writeUInt16BE(reply.flags & 0x8000, 10);
  ipv4Bytes(reply.ciaddr).copy(header, 12);
  ipv4Bytes(reply.yiaddr).copy(header, 16);
  Buffer.from(reply.chaddr.split(':').map((octet) => Number.parseInt(octet, 16))).copy(header, 28);
  header.writeUInt32BE(COOKIE, HEADER_BYTES);
  const options = writeOptions([
    [Option.messageType, Buffer.from([reply.type])],
    [Option.serverId, ipv4Bytes(reply.serverId)],
    ...reply.options,
  ]);
  const packet = Buffer.concat([header, options]);
  return packet.length >= MIN_REPLY_BYTES ? packet : Buffer.concat([packet, Buffer.alloc(MIN_REPLY_BYTES - packet.length)]);
}
