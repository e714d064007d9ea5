/** The outcome of the last configuration a guest agent applied, as both agents' `status` show it. */
export interface LastApply {
  ok: boolean;
  /** ISO time. */
  at: string;
  changes?: number;
  error?: string;
  /** What a DHCP guest leased, as it reported. */
  lease?: { address: string; prefixLength: number; gateway: string; dns: string[] };
}
