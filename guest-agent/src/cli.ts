import { Command, CommanderError } from 'commander';
import { ExitCode, reportFailure, UsageError } from '@guestnet/protocol';
import { run } from './commands/run.js';

interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
}

const print = (line: string) => process.stdout.write(`${line}\n`);

const program = new Command('guest-agent')
  .description("Configures this guest's end of a guestnet link as its host agent instructs.")
  .option('--json', 'machine-readable output on stdout')
  .option('--verbose', 'debug logs, stack traces on errors')
  .exitOverride()
  .configureOutput({ outputError: () => {} });

program
  .command('run')
  .description('wait for the host agent, apply what it sends, confirm; keeps running to serve later attaches')
  .option('--socket <path>', 'host agent socket, as this guest sees it', '/run/guestnet/guest.sock')
  .option('--resolv-conf <path>', 'where to write the resolvers', '/etc/resolv.conf')
  .option('--once', 'exit after the first successful apply')
  .option('--log-level <level>', 'error, warn, info or debug', 'info')
  .action(async (options: { socket: string; resolvConf: string; once?: boolean; logLevel: string }, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    if (!['error', 'warn', 'info', 'debug'].includes(options.logLevel)) throw new UsageError(`--log-level: '${options.logLevel}' is not error, warn, info or debug`);
    for (const path of [options.socket, options.resolvConf]) {
      if (!path.startsWith('/')) throw new UsageError(`'${path}' must be an absolute path`);
    }
    // winston is loaded only here: run is the long-lived path, --help stays fast.
    const { createLog } = await import('./log.js');
    const log = createLog(globals.verbose ? 'debug' : options.logLevel);
    const report = await run({
      socket: options.socket,
      resolvConf: options.resolvConf,
      once: options.once === true,
      onEvent: (message, meta) => log.log(meta && 'error' in meta ? 'warn' : 'info', message, meta),
    });
    if (report && globals.json) print(JSON.stringify(report));
    else if (report) print(`applied: ${report.state.name} ${report.state.address}/${report.state.prefixLength} via ${report.state.gateway} (${report.changes} changes)`);
  });

/** The one place errors become an exit code and a single line. */
function report(error: unknown, globals: GlobalOptions): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return ExitCode.ok;
    error = new UsageError(`${error.message.replace(/^error: /, '')} (see guest-agent --help)`);
  }
  return reportFailure('guest-agent', error, globals, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error, program.opts() as GlobalOptions);
}
