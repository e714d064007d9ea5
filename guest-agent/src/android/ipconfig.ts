/**
 * Android's EthernetService keeps static IP settings per interface in
 * /data/misc/ethernet/ipconfig.txt, a java.io.DataOutputStream record list
 * (IpConfigStore, file version 3). It is read when the framework starts, and
 * it is what makes Android 8+ use our address, gateway and DNS servers: the
 * net.dns* properties are ignored since Android 8. It holds IPv4 only:
 * IpConfigStore drops any other address or default route ("Non-IPv4 or
 * duplicate address"), so a guest's IPv6 is kept by the agent in the kernel.
 */

const VERSION = 3;

export interface StaticIpEntry {
  /** The interface name: EthernetService's key since file version 3. */
  id: string;
  address: string;
  prefixLength: number;
  gateway: string;
  dns: string[];
}

/** An interface EthernetService configures by DHCP: its IpClient takes and renews the lease. */
export interface DhcpIpEntry {
  id: string;
  dhcp: true;
}

export type IpConfigEntry = StaticIpEntry | DhcpIpEntry;

class Writer {
  private readonly parts: Buffer[] = [];
  int(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    this.parts.push(buffer);
    return this;
  }
  // Modified UTF-8 is plain UTF-8 for the ASCII we write.
  utf(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    this.parts.push(length, bytes);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeEntry(entry: IpConfigEntry): Buffer {
  // IpConfigStore writes a DHCP assignment with no address, gateway or DNS.
  if ('dhcp' in entry)
    return new Writer().utf('ipAssignment').utf('DHCP').utf('proxySettings').utf('NONE').utf('id').utf(entry.id).utf('eos').bytes();
  const out = new Writer().utf('ipAssignment').utf('STATIC').utf('linkAddress').utf(entry.address).int(entry.prefixLength);
  // An explicit 0.0.0.0/0 destination: every reader version takes it as the default gateway.
  out.utf('gateway').int(1).utf('0.0.0.0').int(0).int(1).utf(entry.gateway);
  for (const server of entry.dns) out.utf('dns').utf(server);
  return out.utf('proxySettings').utf('NONE').utf('id').utf(entry.id).utf('eos').bytes();
}

class Reader {
  offset = 0;
  constructor(private readonly data: Buffer) {}
  int(): number {
    const value = this.data.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  utf(): string {
    const length = this.data.readUInt16BE(this.offset);
    const end = this.offset + 2 + length;
    if (end > this.data.length) throw new RangeError('truncated string');
    const value = this.data.toString('utf8', this.offset + 2, end);
    this.offset = end;
    return value;
  }
  get done(): boolean {
    return this.offset >= this.data.length;
  }
}

// How each key's value is laid out, so records we do not own are kept byte for byte.
const VALUE_READERS: Record<string, (r: Reader) => unknown> = {
  ipAssignment: (r) => r.utf(),
  linkAddress: (r) => {
    r.utf();
    return r.int();
  },
  gateway: (r) => {
    if (r.int() === 1) {
      r.utf();
      r.int();
    }
    if (r.int() === 1) r.utf();
  },
  dns: (r) => r.utf(),
  proxySettings: (r) => r.utf(),
  proxyHost: (r) => r.utf(),
  proxyPort: (r) => r.int(),
  proxyPac: (r) => r.utf(),
  exclusionList: (r) => r.utf(),
};

/** The records of a version-3 file as raw bytes with their ids; throws on anything it does not understand. */
function splitRecords(file: Buffer): Array<{ id: string | undefined; bytes: Buffer }> {
  const reader = new Reader(file);
  const version = reader.int();
  if (version !== VERSION) throw new Error(`ipconfig.txt has file version ${version}, not ${VERSION}`);
  const records: Array<{ id: string | undefined; bytes: Buffer }> = [];
  while (!reader.done) {
    const start = reader.offset;
    let id: string | undefined;
    for (let key = reader.utf(); key !== 'eos'; key = reader.utf()) {
      const readValue = VALUE_READERS[key];
      if (key === 'id') id = reader.utf();
      else if (readValue) readValue(reader);
      else throw new Error(`ipconfig.txt has an unknown key '${key.slice(0, 40)}'`);
    }
    records.push({ id, bytes: file.subarray(start, reader.offset) });
  }
  return records;
}

/** The file with `entry` in place of any record for the same interface; other records untouched. */
export function withEntry(existing: Buffer | undefined, entry: IpConfigEntry): Buffer {
  const others = existing && existing.length > 0 ? splitRecords(existing).filter((r) => r.id !== entry.id) : [];
  return Buffer.concat([new Writer().int(VERSION).bytes(), ...others.map((r) => r.bytes), encodeEntry(entry)]);
}

/** Every value of a one-string key (dns, ipAssignment) in the record of `id`; undefined without a record. */
function stringsOf(file: Buffer, id: string, wanted: 'dns' | 'ipAssignment'): string[] | undefined {
  const record = splitRecords(file).find((r) => r.id === id);
  if (!record) return undefined;
  const reader = new Reader(record.bytes);
  const values: string[] = [];
  for (let key = reader.utf(); key !== 'eos'; key = reader.utf()) {
    if (key === wanted) values.push(reader.utf());
    else if (key === 'id') reader.utf();
    else VALUE_READERS[key]?.(reader);
  }
  return values;
}

/** How the file has EthernetService address `id`: 'STATIC', 'DHCP', or undefined without a record. */
export function assignmentOf(file: Buffer, id: string): string | undefined {
  return stringsOf(file, id, 'ipAssignment')?.[0];
}

/** The DNS servers the file gives `id`, for status. */
export function dnsOf(file: Buffer, id: string): string[] {
  return stringsOf(file, id, 'dns') ?? [];
}
