// Shell completion generated from a CLI's commander definitions, so that it
// cannot drift from the flags the CLI really takes. Matched by shape: this
// package needs no commander. Loaded only by `<agent> completion`.

export interface CompletableOption {
  flags: string;
  long?: string | undefined;
  short?: string | undefined;
  /** Takes a value: `<value>` or `[value]`. */
  required: boolean;
  optional: boolean;
  hidden: boolean;
}

export interface CompletableArgument {
  argChoices?: string[] | undefined;
}

export interface CompletableCommand {
  name(): string;
  readonly commands: readonly CompletableCommand[];
  readonly options: readonly CompletableOption[];
  readonly registeredArguments: readonly CompletableArgument[];
}

/** The flags to propose; hidden ones are still known, to tell their values from arguments. */
const flagsOf = (options: readonly CompletableOption[], hidden = false) =>
  options.filter((o) => hidden || !o.hidden).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));

const takingValue = (options: readonly CompletableOption[]) => options.filter((o) => o.required || o.optional);

// A flag whose value is named so is completed with file names (directories for <dir>).
const naming = (kinds: string[], options: readonly CompletableOption[]) =>
  takingValue(options)
    .filter((o) => kinds.some((kind) => o.flags.endsWith(`<${kind}>`)))
    .flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));

/** Words of a list inside a bash single-quoted string, padded so that `*" $word "*` matches whole words. */
const list = (words: string[]) => ` ${[...new Set(words)].join(' ')} `;

/**
 * A bash script that completes `program`'s verbs, each verb's flags (and the
 * global ones), file names for flags that take a <file>, <path> or <dir>, the
 * choices of a verb's first argument, and command names after `help`.
 * Source it: `source <(host-agent completion bash)`.
 */
export function bashCompletion(program: CompletableCommand): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  const all = [...program.options, ...program.commands.flatMap((c) => c.options)];
  const globals = [...flagsOf(program.options), '-h', '--help'];
  const verbs = [...program.commands.map((c) => c.name()), 'help'];
  const cases = program.commands.map((command) => {
    const choices = command.registeredArguments[0]?.argChoices ?? [];
    return [
      `    ${command.name()})`,
      `      flags='${list([...flagsOf(command.options), ...globals]).trim()}'`,
      `      first='${choices.join(' ')}' ;;`,
    ].join('\n');
  });
  return `# bash completion for ${name}, made by \`${name} completion bash\`.
# Load it with: source <(${name} completion bash)
# or install it: ${name} completion bash >/etc/bash_completion.d/${name}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local valued='${list(flagsOf(takingValue(all), true))}'
  local files='${list(naming(['file', 'path'], all))}'
  local dirs='${list(naming(['dir'], all))}'
  local verb='' given=0 i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      [[ $valued == *" $word "* ]] && i=$((i + 1))
    elif [[ -z $verb ]]; then
      verb=$word
    else
      given=$((given + 1))
    fi
  done
  COMPREPLY=()
  if ((COMP_CWORD > 1)) && [[ $valued == *" $prev "* ]]; then
    if [[ $dirs == *" $prev "* ]]; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -d -- "$cur"))
    elif [[ $files == *" $prev "* ]]; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
  fi
  local flags='${list(globals).trim()}' first='${verbs.join(' ')}'
  case $verb in
    '') ;;
    help)
      flags=''
      first='${program.commands.map((c) => c.name()).join(' ')}' ;;
${cases.join('\n')}
    *) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif ((given == 0)); then
    COMPREPLY=($(compgen -W "$first" -- "$cur"))
  fi
  return 0
}
complete -F ${fn} ${name}
`;
}
