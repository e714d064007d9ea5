import { LOCAL_NETWORK_TABLE, type PolicyRule, type PolicyState } from '../model/policy.js';
import type { Reader } from '../model/step.js';

/** `deep: false` reads only the default routes: the rules and table 97 grow with the guests. */
export async function observePolicy(runner: Reader, deep: boolean): Promise<PolicyState> {
  const [defaults, rules, local] = await Promise.all([
    runner.read(['ip', '-4', '-j', 'route', 'show', 'table', 'all', 'default']),
    deep ? runner.read(['ip', '-4', '-j', 'rule', 'show']) : '[]',
    deep ? runner.read(['ip', '-4', '-j', 'route', 'show', 'table', String(LOCAL_NETWORK_TABLE)]).catch(() => '[]') : '[]',
  ]);
  const routes = JSON.parse(defaults) as Array<{ dev?: string; table?: string; metric?: number; metrics?: Array<{ mtu?: number }> }>;
  return {
    defaults: routes.flatMap((r) => {
      if (!r.dev) return [];
      const mtu = r.metrics?.find((m) => typeof m.mtu === 'number')?.mtu;
      return [{ dev: r.dev, table: r.table ?? 'main', ...(r.metric === undefined ? {} : { metric: r.metric }), ...(mtu === undefined ? {} : { mtu }) }];
    }),
    rules: JSON.parse(rules) as PolicyRule[],
    localNetwork: new Set((JSON.parse(local) as Array<{ dst: string; dev?: string }>).map((r) => `${r.dst} ${r.dev ?? ''}`)),
  };
}

