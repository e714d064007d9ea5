import { ONE_TIME_NAME, oneTimeNameOf } from './validate.js';

// A token, and the one-time name a token may be made of, are secrets: both
// agents show placeholders where either would appear in anything they print
// (commands of a dry run, errors, logs, status), since launchers and journals
// keep what is printed.

/** Shown in place of a link token. */
export const TOKEN_SHOWN = '<token>';
/** Shown in place of a guest end's one-time name. */
export const ONE_TIME_NAME_SHOWN = '<one-time-name>';

/** What gives `token` away: itself and, for a token made of a one-time name, that name. */
export function secretsOf(token: string): string[] {
  const name = oneTimeNameOf(token);
  return name === undefined ? [token] : [token, name];
}

/** `text` with each of `secrets` (tokens and one-time names) replaced by its placeholder. */
export function redact(text: string, secrets: Iterable<string>): string {
  // A token contains its one-time name: the longer goes first.
  const longestFirst = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  let shown = text;
  for (const secret of longestFirst) shown = shown.split(secret).join(ONE_TIME_NAME.test(secret) ? ONE_TIME_NAME_SHOWN : TOKEN_SHOWN);
  return shown;
}
