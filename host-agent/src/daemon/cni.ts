import { UsageError } from '@guestnet/protocol';
import { add, type CniDaemon, check, del, gc } from '../cni/commands.js';
import { attachmentOf, networkOf, parseConfig, parseRequest, stateDirOf, validAttachments } from '../cni/request.js';
import type { Runner } from '../exec/runner.js';
import type { ControlRequest } from './control.js';

// A CNI plugin whose state dir a daemon serves hands its request over
// (cni/main.ts): the daemon runs the plugin's own commands, with what it
// remembers of the host, and its ADDs join the group commit of attaches.

export interface CniServing extends CniDaemon {
  stateDir: string;
  runner: Runner;
}

/** The plugin's result for ADD, null for the others; the request is checked as the plugin checks it. */
export async function serveCni(request: Extract<ControlRequest, { type: 'cni' }>, serving: CniServing): Promise<object | null> {
  const { env } = request;
  const ours = (stateDir: string) => {
    if (stateDir !== serving.stateDir) throw new UsageError(`this daemon serves ${serving.stateDir}, not ${stateDir}`);
  };
  switch (request.command) {
    case 'ADD':
    case 'CHECK': {
      const parsed = parseRequest(request.command, env, parseConfig(request.config));
      ours(parsed.settings.stateDir);
      if (request.command === 'ADD') return add(parsed, serving.runner, serving);
      await check(parsed, serving.runner);
      return null;
    }
    case 'DEL':
      ours(stateDirOf(env));
      await del(attachmentOf(env), serving.service);
      return null;
    case 'GC': {
      ours(stateDirOf(env));
      const config = parseConfig(request.config);
      await gc(networkOf(config), validAttachments(config), serving.service);
      return null;
    }
  }
}
