// A command's settings, from its options: loaded once a command runs, with
// the settings' checks, which --help and a mistyped flag never need.
import { DEFAULT_CONFIG_PATH } from './setting-flags.js';
import { readConfigFile, resolveSettings } from './settings.js';

/**
 * Defaults, the config file, then GUESTNET_STATE_DIR, then flags. The
 * variable lets hooks and the CNI plugin, which runtimes start with a fixed
 * command line, share one state dir with the daemon.
 */
export function loadSettings(options: Record<string, unknown>) {
  const configPath = typeof options.config === 'string' ? options.config : DEFAULT_CONFIG_PATH;
  const config = readConfigFile(configPath, options.config !== undefined);
  const fromEnv = process.env.GUESTNET_STATE_DIR;
  return resolveSettings(config, { ...(fromEnv ? { stateDir: fromEnv } : {}), ...definedOnly(options) }, configPath);
}

const definedOnly = (options: Record<string, unknown>) => Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
