import { readFile } from 'node:fs/promises';

export interface Counters {
  packets: number;
  bytes: number;
}

/** What status shows of a host link. */
export interface LinkState {
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Up with a carrier: for a veth, its peer is up too. */
  lowerUp: boolean;
  rx: Counters;
  tx: Counters;
}

const IFF_UP = 0x1;

/**
 * The state and counters of those of `names` that exist, from sysfs: no
 * process, so nothing that can hang with a wedged netlink or `ip`, and no
 * lock. A link that goes while it is read counts as absent.
 */
export async function linkStates(names: Iterable<string>): Promise<Map<string, LinkState>> {
  const read = (name: string, file: string) => readFile(`/sys/class/net/${name}/${file}`, 'utf8').then((text) => text.trim());
  const count = (name: string, file: string) => read(name, `statistics/${file}`).then(Number);
  const unique = [...new Set(names)].filter((name) => /^[^/\0]+$/.test(name) && name !== '.' && name !== '..');
  const found = await Promise.all(
    unique.map(async (name): Promise<[string, LinkState] | undefined> => {
      try {
        const [flags, operstate, rxPackets, rxBytes, txPackets, txBytes] = await Promise.all([
          read(name, 'flags'),
          read(name, 'operstate'),
          count(name, 'rx_packets'),
          count(name, 'rx_bytes'),
          count(name, 'tx_packets'),
          count(name, 'tx_bytes'),
        ]);
        const up = (Number(flags) & IFF_UP) !== 0;
        // carrier cannot be read (EINVAL) while the link is down.
        const carrier = up ? await read(name, 'carrier').catch(() => '0') : '0';
        return [
          name,
          {
            up,
            lowerUp: operstate === 'up' || carrier === '1',
            rx: { packets: rxPackets, bytes: rxBytes },
            tx: { packets: txPackets, bytes: txBytes },
          },
        ];
      } catch {
        return undefined;
      }
    }),
  );
  return new Map(found.filter((entry) => entry !== undefined));
}
