// The CLI's side of the settings table: each setting's flag, and settings from a command's options.
import { DEFAULT_CONFIG_PATH, helpOf, readConfigFile, resolveSettings, SETTINGS } from './settings.js';

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

export const CONFIG_OPTION = ['--config <file>', `JSON config (default: ${DEFAULT_CONFIG_PATH} if present)`] as const;

/** A setting's flag and its help, as `.option()` takes them. */
export const setting = (key: keyof typeof SETTINGS) => [SETTINGS[key].flag, helpOf(key)] as const;
