import { ProtocolError } from './errors.js';
import {
  type Applied,
  type AppliedState,
  type Configure,
  type ErrorMessage,
  type GuestMessage,
  type Hello,
  type HostMessage,
  type Ipv6Config,
  type LinkConfig,
  PROTOCOL_VERSION,
} from './messages.js';
import { type Checked, checkIfName, checkIPv4, checkIPv6, checkMtu, checkPrefixLength, checkPrefixLength6, excerpt } from './validate.js';

const MAX_LINKS_IN_HELLO = 8;
const MAX_DNS_SERVERS = 4;
const MAX_CAPABILITIES = 16;
const MAX_TEXT = 200;

type Fields = Record<string, unknown>;

function asObject(raw: unknown, what: string): Fields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ProtocolError(`${what} must be a JSON object`);
  }
  return raw as Fields;
}

/** Reads only own properties, so `{"type":"constructor"}` or `__proto__` keys can't reach the prototype. */
function get(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined;
}

function onlyKeys(fields: Fields, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) throw new ProtocolError(`${what} has an unknown field '${excerpt(key)}'`);
  }
}

function need<T>(checked: Checked<T>, what: string): T {
  if (!checked.ok) throw new ProtocolError(`${what}: ${checked.reason}`);
  return checked.value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length > MAX_TEXT) {
    throw new ProtocolError(`${what} must be a string of at most ${MAX_TEXT} characters`);
  }
  return value;
}

function list<T>(value: unknown, max: number, item: (v: unknown) => T, what: string): T[] {
  if (!Array.isArray(value) || value.length > max) {
    throw new ProtocolError(`${what} must be a list of at most ${max} items`);
  }
  return value.map(item);
}

function messageType(fields: Fields, known: readonly string[], side: string): string {
  const type = get(fields, 'type');
  if (typeof type !== 'string' || !known.includes(type)) {
    throw new ProtocolError(`unknown ${side} message type '${excerpt(String(type))}'`);
  }
  return type;
}

// 2 ** 31 - 1 as a literal: a bundle whose code never parses a message leaves it, and this module, out.
const MAX_SEQ = 2_147_483_647;

function hex(value: unknown, length: number, what: string): string {
  if (typeof value !== 'string' || value.length !== length || !/^[0-9a-f]+$/.test(value)) {
    throw new ProtocolError(`${what} must be ${length} hex digits`);
  }
  return value;
}

const linkId = (value: unknown, what: string) => hex(value, 32, what);
const nonceOf = (value: unknown, what: string) => hex(value, 32, what);
const macOf = (value: unknown, what: string) => hex(value, 64, what);

function seqOf(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_SEQ)
    throw new ProtocolError(`${what} must be an integer from 1 to ${MAX_SEQ}`);
  return value as number;
}

function parseSeq<T extends 'ping' | 'pong'>(fields: Fields, type: T): { type: T; seq: number } {
  onlyKeys(fields, ['type', 'seq'], type);
  const seq = get(fields, 'seq');
  if (!Number.isInteger(seq) || (seq as number) < 0 || (seq as number) > MAX_SEQ) {
    throw new ProtocolError(`${type}.seq must be an integer from 0 to ${MAX_SEQ}`);
  }
  return { type, seq: seq as number };
}

function parseError(fields: Fields): ErrorMessage {
  onlyKeys(fields, ['type', 'code', 'message'], 'error');
  return { type: 'error', code: text(get(fields, 'code'), 'error.code'), message: text(get(fields, 'message'), 'error.message') };
}

function parseIpv6(raw: unknown, what: string): Ipv6Config | undefined {
  if (raw === undefined) return undefined;
  const fields = asObject(raw, what);
  onlyKeys(fields, ['address', 'prefixLength', 'gateway'], what);
  return {
    address: need(checkIPv6(get(fields, 'address')), `${what}.address`),
    prefixLength: need(checkPrefixLength6(get(fields, 'prefixLength')), `${what}.prefixLength`),
    gateway: need(checkIPv6(get(fields, 'gateway')), `${what}.gateway`),
  };
}

const withIpv6 = (ipv6: Ipv6Config | undefined) => (ipv6 === undefined ? {} : { ipv6 });

function parseLinkConfig(raw: unknown): LinkConfig {
  const fields = asObject(raw, 'configure.link');
  onlyKeys(fields, ['rename', 'mtu', 'address', 'prefixLength', 'gateway', 'ipv6', 'dhcp'], 'configure.link');
  const dhcp = get(fields, 'dhcp');
  if (dhcp !== undefined && dhcp !== true) throw new ProtocolError('link.dhcp must be true when present');
  return {
    rename: need(checkIfName(get(fields, 'rename')), 'link.rename'),
    mtu: need(checkMtu(get(fields, 'mtu')), 'link.mtu'),
    address: need(checkIPv4(get(fields, 'address')), 'link.address'),
    prefixLength: need(checkPrefixLength(get(fields, 'prefixLength')), 'link.prefixLength'),
    gateway: need(checkIPv4(get(fields, 'gateway')), 'link.gateway'),
    ...withIpv6(parseIpv6(get(fields, 'ipv6'), 'link.ipv6')),
    ...(dhcp === true ? { dhcp: true as const } : {}),
  };
}

function parseDns(value: unknown, what: string): string[] {
  return list(value, MAX_DNS_SERVERS, (v) => need(checkIPv4(v), what), what);
}

function parseAppliedState(raw: unknown): AppliedState {
  const fields = asObject(raw, 'applied.state');
  onlyKeys(fields, ['name', 'mtu', 'address', 'prefixLength', 'gateway', 'ipv6', 'dns'], 'applied.state');
  return {
    name: need(checkIfName(get(fields, 'name')), 'state.name'),
    mtu: need(checkMtu(get(fields, 'mtu')), 'state.mtu'),
    address: need(checkIPv4(get(fields, 'address')), 'state.address'),
    prefixLength: need(checkPrefixLength(get(fields, 'prefixLength')), 'state.prefixLength'),
    gateway: need(checkIPv4(get(fields, 'gateway')), 'state.gateway'),
    ...withIpv6(parseIpv6(get(fields, 'ipv6'), 'state.ipv6')),
    dns: parseDns(get(fields, 'dns'), 'state.dns'),
  };
}

function parseApplied(fields: Fields): Applied {
  const id = linkId(get(fields, 'id'), 'applied.id');
  const seq = seqOf(get(fields, 'seq'), 'applied.seq');
  const mac = macOf(get(fields, 'mac'), 'applied.mac');
  if (get(fields, 'ok') === true) {
    onlyKeys(fields, ['type', 'id', 'seq', 'ok', 'changes', 'state', 'mac'], 'applied');
    const changes = get(fields, 'changes');
    if (!Number.isInteger(changes) || (changes as number) < 0 || (changes as number) > 1000) {
      throw new ProtocolError('applied.changes must be a count from 0 to 1000');
    }
    return { type: 'applied', id, seq, ok: true, changes: changes as number, state: parseAppliedState(get(fields, 'state')), mac };
  }
  if (get(fields, 'ok') === false) {
    onlyKeys(fields, ['type', 'id', 'seq', 'ok', 'error', 'mac'], 'applied');
    const error = asObject(get(fields, 'error'), 'applied.error');
    onlyKeys(error, ['code', 'message'], 'applied.error');
    return {
      type: 'applied',
      id,
      seq,
      ok: false,
      error: { code: text(get(error, 'code'), 'applied.error.code'), message: text(get(error, 'message'), 'applied.error.message') },
      mac,
    };
  }
  throw new ProtocolError('applied.ok must be true or false');
}

function parseHello(fields: Fields): Hello {
  const version = get(fields, 'version');
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(`unsupported protocol version '${excerpt(String(version))}' (this host speaks ${PROTOCOL_VERSION})`);
  }
  onlyKeys(fields, ['type', 'version', 'links', 'nonce', 'capabilities'], 'hello');
  return {
    type: 'hello',
    version,
    links: list(get(fields, 'links'), MAX_LINKS_IN_HELLO, (v) => linkId(v, 'hello.links'), 'hello.links'),
    nonce: nonceOf(get(fields, 'nonce'), 'hello.nonce'),
    capabilities: list(get(fields, 'capabilities'), MAX_CAPABILITIES, (v) => text(v, 'hello.capabilities'), 'hello.capabilities'),
  };
}

/** Validates a frame a guest sent. Everything from a guest is hostile until this returns. */
export function parseGuestMessage(raw: unknown): GuestMessage {
  const fields = asObject(raw, 'message');
  switch (messageType(fields, ['hello', 'prove', 'applied', 'ping', 'error'], 'guest')) {
    case 'hello':
      return parseHello(fields);
    case 'prove':
      onlyKeys(fields, ['type', 'proof'], 'prove');
      return { type: 'prove', proof: macOf(get(fields, 'proof'), 'prove.proof') };
    case 'applied':
      return parseApplied(fields);
    case 'ping':
      return parseSeq(fields, 'ping');
    default:
      return parseError(fields);
  }
}

/** Validates a frame the host sent. */
export function parseHostMessage(raw: unknown): HostMessage {
  const fields = asObject(raw, 'message');
  switch (messageType(fields, ['challenge', 'configure', 'pong', 'release', 'error'], 'host')) {
    case 'challenge':
      onlyKeys(fields, ['type', 'link', 'nonce', 'proof'], 'challenge');
      return {
        type: 'challenge',
        link: linkId(get(fields, 'link'), 'challenge.link'),
        nonce: nonceOf(get(fields, 'nonce'), 'challenge.nonce'),
        proof: macOf(get(fields, 'proof'), 'challenge.proof'),
      };
    case 'configure':
      return parseConfigure(fields);
    case 'pong':
      return parseSeq(fields, 'pong');
    case 'release':
      onlyKeys(fields, ['type', 'id', 'seq', 'mac'], 'release');
      return {
        type: 'release',
        id: linkId(get(fields, 'id'), 'release.id'),
        seq: seqOf(get(fields, 'seq'), 'release.seq'),
        mac: macOf(get(fields, 'mac'), 'release.mac'),
      };
    default:
      return parseError(fields);
  }
}

function parseConfigure(fields: Fields): Configure {
  onlyKeys(fields, ['type', 'id', 'seq', 'link', 'dns', 'mac'], 'configure');
  return {
    type: 'configure',
    id: linkId(get(fields, 'id'), 'configure.id'),
    seq: seqOf(get(fields, 'seq'), 'configure.seq'),
    link: parseLinkConfig(get(fields, 'link')),
    dns: parseDns(get(fields, 'dns'), 'configure.dns'),
    mac: macOf(get(fields, 'mac'), 'configure.mac'),
  };
}
