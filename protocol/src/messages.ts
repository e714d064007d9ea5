import { ProtocolError } from './errors.js';
import {
  type Checked,
  checkIfName,
  checkIPv4,
  checkMtu,
  checkPrefixLength,
  checkToken,
  excerpt,
} from './validate.js';

export const PROTOCOL_VERSION = 1;
const MAX_TOKENS_IN_HELLO = 8;
const MAX_DNS_SERVERS = 4;
const MAX_CAPABILITIES = 16;
const MAX_TEXT = 200;

/** What the host tells the guest to make of its link. */
export interface LinkConfig {
  /** The name the link has when it arrives in the guest. */
  name: string;
  /** The name the guest gives it. */
  rename: string;
  mtu: number;
  address: string;
  prefixLength: number;
  gateway: string;
}

/** Guest -> host, first frame: which guestnet links (by alias token) the guest can see. */
export interface Hello {
  type: 'hello';
  version: number;
  tokens: string[];
  capabilities: string[];
}

/** Host -> guest: the configuration for the link whose alias carries `token`. */
export interface Configure {
  type: 'configure';
  token: string;
  link: LinkConfig;
  dns: string[];
}

/** What the guest reports as in force after applying. */
export interface AppliedState {
  name: string;
  mtu: number;
  address: string;
  prefixLength: number;
  gateway: string;
  dns: string[];
}

/** Guest -> host: the outcome of a configure. */
export type Applied =
  | { type: 'applied'; token: string; ok: true; changes: number; state: AppliedState }
  | { type: 'applied'; token: string; ok: false; error: { code: string; message: string } };

/** Guest -> host on an idle session, so a dead host is noticed; the host answers `pong`. */
export interface Ping {
  type: 'ping';
  seq: number;
}

/** Host -> guest: the answer to `ping`, carrying its `seq`. */
export interface Pong {
  type: 'pong';
  seq: number;
}

/** Host -> guest: the attachment of `token` is gone; stop keeping its configuration. */
export interface Release {
  type: 'release';
  token: string;
}

/** Either side, last frame before closing: why the connection ends. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export type GuestMessage = Hello | Applied | Ping | ErrorMessage;
export type HostMessage = Configure | Pong | Release | ErrorMessage;

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

const MAX_SEQ = 2 ** 31 - 1;

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

function parseLinkConfig(raw: unknown): LinkConfig {
  const fields = asObject(raw, 'configure.link');
  onlyKeys(fields, ['name', 'rename', 'mtu', 'address', 'prefixLength', 'gateway'], 'configure.link');
  return {
    name: need(checkIfName(get(fields, 'name')), 'link.name'),
    rename: need(checkIfName(get(fields, 'rename')), 'link.rename'),
    mtu: need(checkMtu(get(fields, 'mtu')), 'link.mtu'),
    address: need(checkIPv4(get(fields, 'address')), 'link.address'),
    prefixLength: need(checkPrefixLength(get(fields, 'prefixLength')), 'link.prefixLength'),
    gateway: need(checkIPv4(get(fields, 'gateway')), 'link.gateway'),
  };
}

function parseDns(value: unknown, what: string): string[] {
  return list(value, MAX_DNS_SERVERS, (v) => need(checkIPv4(v), what), what);
}

function parseAppliedState(raw: unknown): AppliedState {
  const fields = asObject(raw, 'applied.state');
  onlyKeys(fields, ['name', 'mtu', 'address', 'prefixLength', 'gateway', 'dns'], 'applied.state');
  return {
    name: need(checkIfName(get(fields, 'name')), 'state.name'),
    mtu: need(checkMtu(get(fields, 'mtu')), 'state.mtu'),
    address: need(checkIPv4(get(fields, 'address')), 'state.address'),
    prefixLength: need(checkPrefixLength(get(fields, 'prefixLength')), 'state.prefixLength'),
    gateway: need(checkIPv4(get(fields, 'gateway')), 'state.gateway'),
    dns: parseDns(get(fields, 'dns'), 'state.dns'),
  };
}

function parseApplied(fields: Fields): Applied {
  const token = need(checkToken(get(fields, 'token')), 'applied.token');
  if (get(fields, 'ok') === true) {
    onlyKeys(fields, ['type', 'token', 'ok', 'changes', 'state'], 'applied');
    const changes = get(fields, 'changes');
    if (!Number.isInteger(changes) || (changes as number) < 0 || (changes as number) > 1000) {
      throw new ProtocolError('applied.changes must be a count from 0 to 1000');
    }
    return { type: 'applied', token, ok: true, changes: changes as number, state: parseAppliedState(get(fields, 'state')) };
  }
  if (get(fields, 'ok') === false) {
    onlyKeys(fields, ['type', 'token', 'ok', 'error'], 'applied');
    const error = asObject(get(fields, 'error'), 'applied.error');
    onlyKeys(error, ['code', 'message'], 'applied.error');
    return {
      type: 'applied',
      token,
      ok: false,
      error: { code: text(get(error, 'code'), 'applied.error.code'), message: text(get(error, 'message'), 'applied.error.message') },
    };
  }
  throw new ProtocolError('applied.ok must be true or false');
}

function parseHello(fields: Fields): Hello {
  onlyKeys(fields, ['type', 'version', 'tokens', 'capabilities'], 'hello');
  const version = get(fields, 'version');
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(`unsupported protocol version '${excerpt(String(version))}' (this host speaks ${PROTOCOL_VERSION})`);
  }
  return {
    type: 'hello',
    version,
    tokens: list(get(fields, 'tokens'), MAX_TOKENS_IN_HELLO, (v) => need(checkToken(v), 'hello.tokens'), 'hello.tokens'),
    capabilities: list(get(fields, 'capabilities'), MAX_CAPABILITIES, (v) => text(v, 'hello.capabilities'), 'hello.capabilities'),
  };
}

/** Validates a frame a guest sent. Everything from a guest is hostile until this returns. */
export function parseGuestMessage(raw: unknown): GuestMessage {
  const fields = asObject(raw, 'message');
  switch (messageType(fields, ['hello', 'applied', 'ping', 'error'], 'guest')) {
    case 'hello':
      return parseHello(fields);
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
  switch (messageType(fields, ['configure', 'pong', 'release', 'error'], 'host')) {
    case 'configure':
      return parseConfigure(fields);
    case 'pong':
      return parseSeq(fields, 'pong');
    case 'release':
      onlyKeys(fields, ['type', 'token'], 'release');
      return { type: 'release', token: need(checkToken(get(fields, 'token')), 'release.token') };
    default:
      return parseError(fields);
  }
}

function parseConfigure(fields: Fields): Configure {
  onlyKeys(fields, ['type', 'token', 'link', 'dns'], 'configure');
  return {
    type: 'configure',
    token: need(checkToken(get(fields, 'token')), 'configure.token'),
    link: parseLinkConfig(get(fields, 'link')),
    dns: parseDns(get(fields, 'dns'), 'configure.dns'),
  };
}
