import type { Runner } from '../exec/runner.js';

/** Names of the links in the current netns. */
export async function linkNames(runner: Runner): Promise<Set<string>> {
  const links = JSON.parse(await runner.read(['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>;
  return new Set(links.map((link) => link.ifname));
}

/** The interface of the IPv4 default route with the lowest metric, if any. */
export async function defaultRouteInterface(runner: Runner): Promise<string | undefined> {
  const routes = JSON.parse(await runner.read(['ip', '-j', '-4', 'route', 'show', 'default'])) as Array<{ dev?: string; metric?: number }>;
  const best = routes.filter((r) => r.dev).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
  return best?.dev;
}
