import { Command, type HelpContext, type ParseOptionsResult } from 'commander';

/**
 * A command whose options are defined when it is first used: when it parses
 * its arguments, shows its help, or is listed whole (completion). Every run
 * of the CLI builds every command, but runs one: an option is an object made
 * from its flags and help, and attach alone has one per setting, so --help
 * and each command pay only for the options they read.
 */
export class OptionsOnUse extends Command {
  private defineOptions: ((command: Command) => void) | undefined;

  override createCommand(name?: string): OptionsOnUse {
    return new OptionsOnUse(name);
  }

  /** `define` adds this command's options, once, before their first use. */
  optionsOnUse(define: (command: Command) => void): this {
    this.defineOptions = define;
    return this;
  }

  /** Defines the options now, where a caller reads them directly (completion). */
  withOptions(): this {
    const define = this.defineOptions;
    this.defineOptions = undefined;
    define?.(this);
    return this;
  }

  /** This command and its subcommands with every option defined, for a caller that reads them all (completion). */
  withAllOptions(): this {
    this.withOptions();
    for (const command of this.commands) if (command instanceof OptionsOnUse) command.withAllOptions();
    return this;
  }

  override parseOptions(argv: string[]): ParseOptionsResult {
    this.withOptions();
    return super.parseOptions(argv);
  }

  override helpInformation(context?: HelpContext): string {
    this.withOptions();
    return super.helpInformation(context);
  }
}
