import { DhcpRefusal, ipv4Of, joinOptions, Option, readOptions } from './options.js';

// The BOOTP/DHCP message (RFC 2131 section 2): a fixed 236-byte header, the
// magic cookie, then options. Only what a guest's client sends is taken: a
// request (op 1) for Ethernet (htype 1, hlen 6), straight from the guest's
// link (no relay), with a message type a client may send.

export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;

export const MessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The message types a client sends; a server's own types from a guest are refused. */
const CLIENT_TYPES = new Set<number>([
  MessageType.discover,
  MessageType.request,
  MessageType.decline,
  MessageType.release,
  MessageType.inform,
]);

export const HEADER_BYTES = 236;
export const COOKIE = 0x63825363;
/** The smallest request: the header and the cookie, with no options. */
const MIN_BYTES = HEADER_BYTES + 4;
/**
 * The largest request taken. A client's request fits in 576 bytes (RFC 2131's
 * minimum a server must take); a guest's link may carry more, but nothing a
 * client needs to say is longer. Anything above is refused before it is read.
 */
export const MAX_REQUEST_BYTES = 1500;
const BROADCAST_FLAG = 0x8000;

const SNAME = { start: 44, end: 108 };
const FILE = { start: 108, end: 236 };

export interface DhcpRequest {
  type: MessageType;
  xid: number;
  flags: number;
  /** The client asked for broadcast replies (it cannot take unicast before it has an address). */
  broadcast: boolean;
  ciaddr: string;
  /** The client's hardware address, as aa:bb:cc:dd:ee:ff. */
  chaddr: string;
  requestedAddress?: string;
  serverId?: string;
  /** Option codes the client asked for (option 55), in its order. */
  parameters: number[];
}

/** The address of a 4-byte option, or undefined when absent; a refusal when its length is not 4. */
function addressOption(options: Map<number, Buffer>, code: number): string | undefined {
  const value = options.get(code);
  if (value === undefined) return undefined;
  if (value.length !== 4) throw new DhcpRefusal(`option ${code} is ${value.length} bytes, not 4`);
  return ipv4Of(value);
}

/** The options of a request, with overloaded file and sname fields (option 52) read after the options area. */
function optionsOf(packet: Buffer): Map<number, Buffer> {
  const pieces = new Map<number, Buffer[]>();
  readOptions(packet.subarray(MIN_BYTES), pieces);
  const overload = pieces.get(Option.overload);
  if (overload !== undefined) {
    const [only, ...more] = overload;
    const value = only?.length === 1 && more.length === 0 ? (only[0] as number) : 0;
    if (value < 1 || value > 3) throw new DhcpRefusal('bad option overload');
    // Overload is honoured once, from the options area: a second one inside file or sname is a refusal.
    pieces.delete(Option.overload);
    if (value & 1) readOptions(packet.subarray(FILE.start, FILE.end), pieces);
    if (value & 2) readOptions(packet.subarray(SNAME.start, SNAME.end), pieces);
    if (pieces.has(Option.overload)) throw new DhcpRefusal('option overload inside an overloaded field');
  }
  return joinOptions(pieces);
}

const macOf = (bytes: Buffer): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Any DHCP message on Ethernet, request or reply: the header's fields and the options, joined. */
export interface DhcpMessage {
  op: number;
  type: MessageType;
  hops: number;
  xid: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  giaddr: string;
  chaddr: string;
  options: Map<number, Buffer>;
}

/** Reads a DHCP message of either direction; any other bytes give a DhcpRefusal, never another error. */
export function parseMessage(packet: Buffer): DhcpMessage {
  if (packet.length < MIN_BYTES) throw new DhcpRefusal(`${packet.length} bytes, shorter than a DHCP header`);
  if (packet.length > MAX_REQUEST_BYTES) throw new DhcpRefusal(`${packet.length} bytes, longer than ${MAX_REQUEST_BYTES}`);
  if (packet[1] !== 1 || packet[2] !== 6) throw new DhcpRefusal('hardware is not Ethernet');
  if (packet.readUInt32BE(HEADER_BYTES) !== COOKIE) throw new DhcpRefusal('no DHCP magic cookie');
  const options = optionsOf(packet);
  const type = options.get(Option.messageType);
  if (type?.length !== 1 || (type[0] as number) < MessageType.discover || (type[0] as number) > MessageType.inform)
    throw new DhcpRefusal('no DHCP message type');
  return {
    op: packet[0] as number,
    type: type[0] as MessageType,
    hops: packet[3] as number,
    xid: packet.readUInt32BE(4),
    flags: packet.readUInt16BE(10),
    ciaddr: ipv4Of(packet.subarray(12, 16)),
    yiaddr: ipv4Of(packet.subarray(16, 20)),
    giaddr: ipv4Of(packet.subarray(24, 28)),
    chaddr: macOf(packet.subarray(28, 34)),
    options,
  };
}

/**
 * Reads a guest's DHCP request. Any other bytes, whatever they are, give a
 * DhcpRefusal, never another error: the server drops them and goes on.
 */
export function parseRequest(packet: Buffer): DhcpRequest {
  const message = parseMessage(packet);
  if (message.op !== 1) throw new DhcpRefusal('not a BOOTREQUEST');
  if (!CLIENT_TYPES.has(message.type)) throw new DhcpRefusal("a server's message type");
  // A relayed request did not come from a guest on its own link: guest links have no relays.
  if (message.hops !== 0 || message.giaddr !== '0.0.0.0') throw new DhcpRefusal('relayed (hops or giaddr set)');
  const requestedAddress = addressOption(message.options, Option.requestedAddress);
  const serverId = addressOption(message.options, Option.serverId);
  return {
    type: message.type,
    xid: message.xid,
    flags: message.flags,
    broadcast: (message.flags & BROADCAST_FLAG) !== 0,
    ciaddr: message.ciaddr,
    chaddr: message.chaddr,
    ...(requestedAddress === undefined ? {} : { requestedAddress }),
    ...(serverId === undefined ? {} : { serverId }),
    parameters: [...(message.options.get(Option.parameterList) ?? [])],
  };
}
