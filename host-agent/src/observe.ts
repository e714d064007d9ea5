import { readFile } from 'node:fs/promises';
import type { Runner } from './exec/runner.js';
import type { Firewall } from './firewall/firewall.js';
import { linkNames, mainRoutes } from './net/links.js';
import { observePolicy } from './net/policy.js';
import { IP_FORWARD_PATH } from './ops.js';
import type { HostObserved } from './planner.js';
import { readIpForwardBefore, readRecords } from './state.js';

/** Reads everything the planners need, in parallel; changes nothing. */
export async function observeHost(runner: Runner, stateDir: string, firewall: Firewall): Promise<HostObserved> {
  const [links, routes, ipForward, ipForwardBefore, records, firewallState, policy] = await Promise.all([
    linkNames(runner),
    mainRoutes(runner),
    readFile(IP_FORWARD_PATH, 'utf8').then((text) => text.trim()),
    readIpForwardBefore(stateDir),
    readRecords(stateDir),
    firewall.observe(runner),
    observePolicy(runner),
  ]);
  return { links, routes, ipForward, ipForwardBefore, records, firewall: firewallState, policy };
}
