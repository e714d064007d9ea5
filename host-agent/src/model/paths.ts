import { join } from 'node:path';

export const IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward';

export interface StatePaths {
  attachments: string;
  ipForwardBefore: string;
  pidFile: string;
  controlSocket: string;
}

export function statePaths(stateDir: string): StatePaths {
  return {
    attachments: join(stateDir, 'attachments'),
    ipForwardBefore: join(stateDir, 'ip_forward.before'),
    pidFile: join(stateDir, 'serve.pid'),
    controlSocket: join(stateDir, 'control.sock'),
  };
}

export function recordPath(stateDir: string, id: string): string {
  return join(statePaths(stateDir).attachments, `${id}.json`);
}
