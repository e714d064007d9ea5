import { Argument, type Command, Option } from 'commander';
import { BadPidError, checkPid, ExitCode, PROTOCOL_VERSION, UsageError } from '@guestnet/protocol';
import {
  examplesHelp,
  GUESTNET_VERSION,
  installExitGuard,
  installPipeGuard,
  outputWidth,
  print,
  reportCliFailure,
  STDOUT_FOR_COMMANDER,
} from '@guestnet/runtime';
import { configureLog, flushLog, isLevel, type Level, log, logFormatOf } from './log.js';
import { CONFIG_OPTION, setting, settingKeys } from './cli-settings.js';
import { OptionsOnUse } from './options-on-use.js';

// Each command's module loads only when that command runs: --help and a
// mistyped flag stay fast. The verbs a daemon may serve ask it first and load
// the engine only when none does; doctor and serve always run here.
const commands = {
  attach: () => import('./commands/attach.js'),
  detach: () => import('./commands/detach.js'),
  doctor: () => import('./engine.js'),
  forward: () => import('./commands/forward.js'),
  serve: () => import('./engine.js'),
  status: () => import('./commands/status.js'),
};
// How results read for a person: loaded once there is a result.
const output = () => import('./output.js');
// A command's settings, checked: loaded once a command runs.
const loadSettings = async (options: Record<string, unknown>) => (await import('./command-settings.js')).loadSettings(options);

interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  logLevel?: string;
}

function logLevel(globals: GlobalOptions, fallback: Level): Level {
  if (globals.verbose) return 'debug';
  if (globals.logLevel === undefined) return fallback;
  if (!isLevel(globals.logLevel)) throw new UsageError(`--log-level: '${globals.logLevel}' is not error, warn, info or debug`);
  return globals.logLevel;
}

const settled = installExitGuard('host-agent');

function parsePid(text: string): number {
  const checked = checkPid(text);
  if (!checked.ok) throw new BadPidError(checked.reason);
  return checked.value;
}

function emit(json: boolean | undefined, value: unknown, lines: string[]): void {
  if (json) print(JSON.stringify(value));
  else for (const line of lines) print(line);
}

/** A command with examples below its help. */
const withExamples = <C extends Command>(command: C, examples: Array<[string, string]>): C =>
  command.addHelpText('after', examplesHelp(examples));

/** The options of detach and forward, which change what one guest has (or every guest's, for detach --all). */
const changesOfOneGuest = (command: Command) =>
  command
    .option(...CONFIG_OPTION)
    .option('--dry-run', 'print the exact commands instead of running them')
    .option(...setting('stateDir'))
    .option(...setting('commandTimeout'));

const program = new OptionsOnUse('host-agent')
  .description("Gives a guest (a process in its own network namespace) network through this host's uplink.")
  .version(`host-agent ${GUESTNET_VERSION} (protocol v${PROTOCOL_VERSION})`, '-V, --version', 'print the version')
  .helpOption('-h, --help', 'print this help; `host-agent help <command>` for a command, with examples')
  .helpCommand('help [command]', 'print the help of a command, with examples')
  .option('--json', 'machine-readable output on stdout')
  .option('--verbose', 'debug logs, stack traces on errors')
  .option('--log-level <level>', 'error, warn, info or debug (default: warn; info for serve)')
  .exitOverride()
  .configureOutput({ ...STDOUT_FOR_COMMANDER, outputError: () => {} })
  .hook('preAction', (_, action) => {
    const globals = action.optsWithGlobals() as GlobalOptions;
    configureLog({ level: logLevel(globals, 'warn'), target: 'stderr', ...logFormatOf(undefined, 'stderr'), timestamps: false });
  });

const attachCommand = program
  .command('attach')
  .description('wire the guest of each <pid> to the uplink and wait for its guest agent to confirm')
  .argument('<pid...>', "any process inside the guest's network namespace; several for several guests, each on its own")
  // A command's first option is defined at once: the list of commands shows `[options]` for a command that has any.
  .option(...CONFIG_OPTION)
  .optionsOnUse((command) => {
    command
      .option('--dry-run', 'print the exact commands instead of running them')
      .option('--no-wait', 'configure the host side only; do not wait for the guest agent')
      .option(
        '--wait-lease',
        "with --guest-config dhcp: wait for the guest's DHCP client to take its lease (--timeout; rolled back if not)",
      );
    for (const key of settingKeys()) command.option(...setting(key));
  });
withExamples(attachCommand, [
  ['host-agent attach 4242', 'wire the guest, wait for its agent to confirm'],
  ['host-agent attach 4242 --no-wait', 'the host side only'],
  ['host-agent attach 4242 --dry-run', 'print the commands, change nothing'],
  ['host-agent attach 4242 4243 4244', 'a farm: one request to the daemon, each guest succeeds or fails alone'],
  ['host-agent attach 4242 --ipv6 off --timeout 5000', ''],
  [
    'host-agent attach 4242 --guest-name eth0 --guest-config dhcp',
    "a guest with no agent: its own DHCP client (Android's EthernetService)",
  ],
]);
attachCommand.action(async (pidTexts: string[], options: Record<string, unknown>, command: Command) => {
  const globals = command.optsWithGlobals() as GlobalOptions;
  const pids = pidTexts.map(parsePid);
  if (new Set(pids).size !== pids.length) throw new UsageError('a pid is given twice');
  const settings = await loadSettings(options);
  const { attach, attachMany } = await commands.attach();
  const attachOptions = {
    settings,
    dryRun: options.dryRun === true,
    wait: (await import('./model/guest-config-mode.js')).waitOf(settings, options),
    print,
    // Other guests' agents reconnect while this one waits: worth a line only with --verbose; misbehaviour always is.
    onGuestEvent: (event: Parameters<NonNullable<Parameters<typeof attach>[1]['onGuestEvent']>>[0]) =>
      'rejected' in event
        ? log(event.unknownGuest ? 'debug' : 'warn', 'guest connection rejected', { reason: event.rejected })
        : log('debug', 'guest connected', event),
  };
  const [pid] = pids;
  if (pids.length === 1 && pid !== undefined) {
    const result = await attach(pid, attachOptions);
    return emit(globals.json, { pid, ...result }, (await output()).formatAttach(pid, result));
  }
  const { results } = await attachMany(pids, attachOptions);
  const { formatAttach } = await output();
  emit(
    globals.json,
    { results },
    results.flatMap((r) => (r.ok ? formatAttach(r.pid, r.result as Parameters<typeof formatAttach>[1]) : [])),
  );
  // Each failure gets its line; the exit code is the first one's.
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  if (!globals.json) for (const f of failed) process.stderr.write(`host-agent: pid ${f.pid}: ${f.error.message}\n`);
  const first = failed[0]?.error.code;
  if (first !== undefined) process.exitCode = ExitCode[first as keyof typeof ExitCode] ?? ExitCode.internal;
});

withExamples(program.command('detach'), [
  ['host-agent detach 4242', 'remove what attach added'],
  ['host-agent detach --all', 'every guest, as a launcher stops'],
])
  .description('remove everything attach added for <pid>; safe to repeat, works after the guest is gone')
  .argument('[pid]', 'the pid given to attach')
  .option('--all', 'every guest of the state dir at once (a launcher shutting down)')
  .optionsOnUse(changesOfOneGuest)
  .action(async (pidText: string | undefined, options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const all = options.all === true;
    if (all === (pidText !== undefined)) throw new UsageError('give either a pid or --all (see host-agent detach --help)');
    const { stateDir, commandTimeout } = await loadSettings(options);
    const { detach, detachAll } = await commands.detach();
    if (all) {
      const result = await detachAll({ stateDir, dryRun: options.dryRun === true, print, commandTimeout });
      return emit(globals.json, result, (await output()).formatDetachAll(result));
    }
    const pid = parsePid(pidText as string);
    const result = await detach(pid, { stateDir, dryRun: options.dryRun === true, print, commandTimeout });
    emit(globals.json, result, (await output()).formatDetach(result));
  });

withExamples(program.command('forward'), [
  ['host-agent forward 4242 5555:5555', "adb on the host's port 5555 reaches the guest's adbd"],
  ['host-agent forward 4242 5353:53/udp', ''],
  ['host-agent forward 4242 5555:5555 --remove', ''],
])
  .description('forward a host port to a port of an attached guest (e.g. 5555:5555 for adbd); removed with the guest')
  .argument('<pid>', 'the pid given to attach')
  .argument('<ports>', 'hostPort:guestPort[/tcp|/udp], tcp by default')
  .option('--remove', 'stop forwarding that host port')
  .optionsOnUse(changesOfOneGuest)
  .action(async (pidText: string, ports: string, options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const pid = parsePid(pidText);
    const spec = (await import('./model/port-forward.js')).parsePortForward(ports);
    if (typeof spec === 'string') throw new UsageError(spec);
    const { stateDir, commandTimeout } = await loadSettings(options);
    const { forward } = await commands.forward();
    const result = await forward(pid, spec, {
      stateDir,
      remove: options.remove === true,
      dryRun: options.dryRun === true,
      print,
      commandTimeout,
    });
    emit(globals.json, result, (await output()).formatForward(result));
  });

withExamples(program.command('status'), [
  ['host-agent status', 'a table as wide as the terminal (80 through a pipe)'],
  ['host-agent status --wide', 'every column and full ids'],
  ['host-agent status --json', 'everything, for scripts'],
])
  .description('list attached guests: alive or gone, names, addresses, agent, last apply, counters')
  .option('--wide', 'every column and full ids, however wide')
  .optionsOnUse((command) =>
    command
      .option(...CONFIG_OPTION)
      .option(...setting('stateDir'))
      .option(...setting('commandTimeout')),
  )
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const { wide, ...rest } = options;
    const { stateDir, commandTimeout } = await loadSettings(rest);
    const { status } = await commands.status();
    const result = await status(stateDir, commandTimeout);
    const lines = (await output()).formatStatus(result, wide === true ? Number.POSITIVE_INFINITY : outputWidth());
    emit(globals.json, { guests: result.guests }, lines);
  });

withExamples(program.command('doctor'), [
  ['host-agent doctor', 'check for the default settings'],
  ['host-agent doctor --uplink rmnet_data0 --firewall iptables', ''],
])
  .description('check this host for what guests need, explaining each finding and its fix; exits non-zero if something blocks guests')
  .option(...CONFIG_OPTION)
  .optionsOnUse((command) => {
    for (const key of ['uplink', 'pool', 'socket', 'stateDir', 'firewall', 'ipv6', 'type', 'link', 'vlanId'] as const)
      command.option(...setting(key));
  })
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const { doctor } = await commands.doctor();
    const findings = await doctor(await loadSettings(options));
    emit(globals.json, { checks: findings }, (await output()).formatDoctor(findings, outputWidth()));
    if (findings.some((f) => f.status === 'fail')) process.exitCode = ExitCode.doctorFailed;
  });

withExamples(program.command('serve'), [
  ['host-agent serve', 'log for people on a terminal or the journal, else JSON'],
  ['host-agent serve --log-file /var/log/guestnet.log', 'JSON lines, rotated'],
  ['host-agent serve --log-format human --log-level debug', ''],
])
  .description('run as the daemon of a state dir: serves attach/detach/status, keeps guest agents connected, reaps dead guests')
  .option(...CONFIG_OPTION)
  .optionsOnUse((command) => {
    for (const key of ['socket', 'stateDir', 'timeout', 'commandTimeout'] as const) command.option(...setting(key));
    command
      .option('--log-file <path>', 'write log lines here, rotated at 10 MiB (default: stdout)')
      .option('--log-format <format>', 'human or json (default: human on a terminal or the journal, json elsewhere)')
      .option('--netd-socket <path>', "netd's DNS socket, used when resolv.conf names no resolver (default: /dev/socket/dnsproxyd)")
      .addOption(
        new Option('--kill-after-op <n>', 'test seam: SIGKILL the daemon right after its Nth setup op').hideHelp().argParser(Number),
      );
  })
  .action(async (options: Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const { killAfterOp, netdSocket, logFile, logFormat, ...rest } = options;
    const target = typeof logFile === 'string' ? { file: logFile } : ('stdout' as const);
    const format = logFormatOf(logFormat, target);
    // Its log lines go to process.stdout; a reader that left ends it quietly.
    if (target === 'stdout') installPipeGuard();
    configureLog({ level: logLevel(globals, 'info'), target, ...format });
    const { serve } = await commands.serve();
    await serve(await loadSettings(rest), log, {
      ...(typeof killAfterOp === 'number' ? { killAfterOp } : {}),
      ...(typeof netdSocket === 'string' ? { netdSocket } : {}),
    });
  });

withExamples(program.command('completion'), [
  ['source <(host-agent completion bash)', 'complete in this shell'],
  ['host-agent completion bash >/etc/bash_completion.d/host-agent', ''],
])
  .description('print a script that completes verbs and flags in the shell')
  .addArgument(new Argument('<shell>', 'the shell').choices(['bash']))
  .action(async () => {
    const { bashCompletion } = await import('@guestnet/runtime/completion');
    print(bashCompletion(program.withAllOptions()));
  });

// No top-level await: a CommonJS bundle cannot have one.
program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportCliFailure('host-agent', error, program.opts() as GlobalOptions);
  })
  .then(flushLog)
  .then(settled);
