import type { Runner } from '../exec/runner.js';
import type { HostSettings } from '../model/settings.js';

export interface Finding {
  check: string;
  /** fail: guests will not work until fixed; warn: worth knowing; ok. */
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export type Check = (settings: HostSettings, runner: Runner) => Promise<Finding[]>;

export const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail });
