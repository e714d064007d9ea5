/** Changes the guest agent makes. Each has an inverse, used to roll back a failed apply. */
export type GuestOp =
  | { kind: 'linkUp'; name: string }
  | { kind: 'linkDown'; name: string }
  | { kind: 'renameLink'; from: string; to: string }
  | { kind: 'setMtu'; name: string; mtu: number; before: number }
  | { kind: 'setAlias'; name: string; alias: string; before: string | undefined }
  | { kind: 'addAddress'; name: string; cidr: string }
  | { kind: 'deleteAddress'; name: string; cidr: string }
  /**
   * `ahead`: goes in front of any default route the guest has, which stays behind it and takes over when the
   * link goes, and without the kernel's check that the gateway is reachable (onlink), which routes through the
   * rules: for the host that configures a guest's end in the process that makes it (host-agent's from-host.ts).
   */
  | { kind: 'setDefaultRoute'; gateway: string; dev: string; before: { gateway: string; dev: string } | undefined; ahead?: true }
  /** `before`: the route it removes, which its inverse puts back; unset only in the inverse of a set. */
  | { kind: 'deleteDefaultRoute'; family?: 6; before?: { gateway: string; dev: string } }
  | { kind: 'addMainRule'; priority: number; family?: 6 }
  | { kind: 'deleteMainRule'; priority: number; family?: 6 }
  /** `synced`: kept across a power cut (fsync'd), for a file nothing rewrites before it is read at boot. */
  | { kind: 'writeDnsFile'; path: string; content: Buffer; before: Buffer | undefined; synced: boolean }
  | { kind: 'removeFile'; path: string };

type ByKind<R> = { [K in GuestOp['kind']]: (op: Extract<GuestOp, { kind: K }>) => R };

const inverses: ByKind<GuestOp | undefined> = {
  linkUp: (op) => ({ kind: 'linkDown', name: op.name }),
  linkDown: (op) => ({ kind: 'linkUp', name: op.name }),
  renameLink: (op) => ({ kind: 'renameLink', from: op.to, to: op.from }),
  setMtu: (op) => ({ kind: 'setMtu', name: op.name, mtu: op.before, before: op.mtu }),
  setAlias: (op) => ({ kind: 'setAlias', name: op.name, alias: op.before ?? '', before: op.alias }),
  addAddress: (op) => ({ kind: 'deleteAddress', name: op.name, cidr: op.cidr }),
  deleteAddress: (op) => ({ kind: 'addAddress', name: op.name, cidr: op.cidr }),
  // One put ahead of the guest's own goes by itself, leaving that one; one that replaced another puts it back.
  setDefaultRoute: (op) => {
    const ours = { gateway: op.gateway, dev: op.dev };
    if (op.before && !op.ahead) return { kind: 'setDefaultRoute', ...op.before, before: ours };
    return { kind: 'deleteDefaultRoute', ...(familyOf(op) === 6 ? { family: 6 as const } : {}), ...(op.ahead ? { before: ours } : {}) };
  },
  deleteDefaultRoute: (op) => (op.before ? { kind: 'setDefaultRoute', ...op.before, before: undefined } : undefined),
  addMainRule: (op) => ({ ...op, kind: 'deleteMainRule' }),
  deleteMainRule: (op) => ({ ...op, kind: 'addMainRule' }),
  writeDnsFile: (op) =>
    op.before === undefined
      ? { kind: 'removeFile', path: op.path }
      : { kind: 'writeDnsFile', path: op.path, content: op.before, before: op.content, synced: op.synced },
  removeFile: () => undefined,
};

export function inverseOf(op: GuestOp): GuestOp | undefined {
  return (inverses[op.kind] as (op: GuestOp) => GuestOp | undefined)(op);
}

/** Which `ip -batch` an op's lines go to: `ip` takes one family per process where it cannot tell from an address. */
export function familyOf(op: GuestOp): 4 | 6 {
  switch (op.kind) {
    case 'addAddress':
    case 'deleteAddress':
      return op.cidr.includes(':') ? 6 : 4;
    case 'setDefaultRoute':
      return op.gateway.includes(':') ? 6 : 4;
    case 'deleteDefaultRoute':
    case 'addMainRule':
    case 'deleteMainRule':
      return op.family ?? 4;
    default:
      return 4;
  }
}

/** The `ip -batch` lines of an op; file ops have none. */
const ipLines: ByKind<string[]> = {
  linkUp: (op) => [`link set dev ${op.name} up`],
  linkDown: (op) => [`link set dev ${op.name} down`],
  // A link must be down to be renamed; linkUp follows in the plan.
  renameLink: (op) => [`link set dev ${op.from} down`, `link set dev ${op.from} name ${op.to}`],
  setMtu: (op) => [`link set dev ${op.name} mtu ${op.mtu}`],
  // An empty alias clears it.
  setAlias: (op) => [`link set dev ${op.name} alias "${op.alias}"`],
  // Duplicate address detection would hold an IPv6 address back for a second; the host gave it to this link alone.
  addAddress: (op) => [`address add ${op.cidr} dev ${op.name}${op.cidr.includes(':') ? ' nodad' : ''}`],
  deleteAddress: (op) => [`address del ${op.cidr} dev ${op.name}`],
  setDefaultRoute: (op) => [
    op.ahead ? `route prepend default via ${op.gateway} dev ${op.dev} onlink` : `route replace default via ${op.gateway} dev ${op.dev}`,
  ],
  deleteDefaultRoute: (op) => [op.before ? `route del default via ${op.before.gateway} dev ${op.before.dev}` : 'route del default'],
  addMainRule: (op) => [`rule add priority ${op.priority} lookup main`],
  deleteMainRule: (op) => [`rule del priority ${op.priority} lookup main`],
  writeDnsFile: () => [],
  removeFile: () => [],
};

export function ipLinesOf(op: GuestOp): string[] {
  return (ipLines[op.kind] as (op: GuestOp) => string[])(op);
}
