import type { Route } from '../model/host.js';
import type { Reader } from '../model/step.js';

/** Names of the links in the current netns. */
export async function linkNames(runner: Reader): Promise<Set<string>> {
  const links = JSON.parse(await runner.read(['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>;
  return new Set(links.map((link) => link.ifname));
}

/** The main table's IPv4 routes. */
export async function mainRoutes(runner: Reader): Promise<Route[]> {
  const routes = JSON.parse(await runner.read(['ip', '-j', '-4', 'route', 'show'])) as Array<{ dst: string; dev?: string; metric?: number }>;
  return routes.flatMap((r) => (r.dev === undefined ? [] : [{ dst: r.dst, dev: r.dev, ...(r.metric === undefined ? {} : { metric: r.metric }) }]));
}
