import { hostQueries } from '../model/host-queries.js';
import type { PolicyRule, PolicyState } from '../model/policy.js';
import type { Reader } from '../model/step.js';

/** `deep: false` reads only the default routes: the rules and table 97 grow with the guests. IPv6's only with `ipv6`. */
export async function observePolicy(runner: Reader, deep: boolean, ipv6 = false): Promise<PolicyState> {
  const [defaults, rules, local, rules6, local6] = await Promise.all([
    runner.query(hostQueries.defaultRoutes4),
    deep ? runner.query(hostQueries.rules4) : '[]',
    deep ? runner.query(hostQueries.localNetworkRoutes4).catch(() => '[]') : '[]',
    // A kernel with IPv6 off has no IPv6 rules to show.
    deep && ipv6 ? runner.query(hostQueries.rules6).catch(() => '[]') : '[]',
    deep && ipv6 ? runner.query(hostQueries.localNetworkRoutes6).catch(() => '[]') : '[]',
  ]);
  const destinations = (text: string) =>
    new Set((JSON.parse(text) as Array<{ dst: string; dev?: string }>).map((r) => `${r.dst} ${r.dev ?? ''}`));
  const routes = JSON.parse(defaults) as Array<{ dev?: string; table?: string; metric?: number; metrics?: Array<{ mtu?: number }> }>;
  return {
    defaults: routes.flatMap((r) => {
      if (!r.dev) return [];
      const mtu = r.metrics?.find((m) => typeof m.mtu === 'number')?.mtu;
      return [
        {
          dev: r.dev,
          table: r.table ?? 'main',
          ...(r.metric === undefined ? {} : { metric: r.metric }),
          ...(mtu === undefined ? {} : { mtu }),
        },
      ];
    }),
    rules: JSON.parse(rules) as PolicyRule[],
    localNetwork: destinations(local),
    rules6: JSON.parse(rules6) as PolicyRule[],
    localNetwork6: destinations(local6),
  };
}
