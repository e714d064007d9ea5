/** The outcome of the last configuration a guest agent applied, as both agents' `status` show it. */
export interface LastApply {
  ok: boolean;
  /** ISO time. */
  at: string;
  changes?: number;
  error?: string;
}
