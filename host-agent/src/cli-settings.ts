// The CLI's side of the settings table: each setting's flag and help.
import { DEFAULT_CONFIG_PATH, helpOf, type Key, SETTING_FLAGS } from './setting-flags.js';

export const CONFIG_OPTION = ['--config <file>', `JSON config (default: ${DEFAULT_CONFIG_PATH} if present)`] as const;

/** A setting's flag and its help, as `.option()` takes them. */
export const setting = (key: Key) => [SETTING_FLAGS[key].flag, helpOf(key)] as const;

/** Every setting, in the table's order. */
export const settingKeys = () => Object.keys(SETTING_FLAGS) as Key[];
