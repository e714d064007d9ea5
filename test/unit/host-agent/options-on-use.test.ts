import assert from 'node:assert/strict';
import { OptionsOnUse } from '@guestnet/host-agent';

// Each run of the CLI builds every command and runs one: a command's options
// are made when that command is used, and the help reads as if made at once.

function tool() {
  const defined: string[] = [];
  const printed: string[] = [];
  const program = new OptionsOnUse('tool')
    .exitOverride()
    .configureOutput({ writeOut: (text) => printed.push(text), writeErr: (text) => printed.push(text) });
  for (const name of ['one', 'two'])
    program
      .command(name)
      .option('--first', 'defined at once')
      .optionsOnUse((command) => {
        defined.push(name);
        command.option('--later <n>', 'defined on use');
      })
      .action(() => {});
  const run = (args: string[]) => {
    try {
      program.parse(args, { from: 'user' });
    } catch (error) {
      if (!['commander.helpDisplayed', 'commander.help'].includes((error as { code?: string }).code ?? '')) throw error;
    }
  };
  return { program, defined, printed, run };
}

describe('OptionsOnUse: a command defines its options when it is used', () => {
  it("the program's help defines none, and still lists each command with [options]", () => {
    const { defined, printed, run } = tool();
    run(['--help']);
    assert.deepEqual(defined, []);
    assert.match(printed.join(''), /^ {2}one \[options\]/m);
  });

  it('a command that runs defines its own options, once, and no other command its', () => {
    const { program, defined, run } = tool();
    run(['one', '--later', '3']);
    assert.deepEqual(defined, ['one']);
    assert.equal(program.commands[0]?.opts().later, '3');
  });

  it("`help <command>` and `<command> --help` show the command's options in the order given", () => {
    for (const args of [
      ['help', 'two'],
      ['two', '--help'],
    ]) {
      const { defined, printed, run } = tool();
      run(args);
      assert.deepEqual(defined, ['two']);
      assert.match(printed.join(''), /--first +defined at once\n +--later <n> +defined on use/);
    }
  });

  it("withAllOptions defines every command's, for a reader of them all (completion)", () => {
    const { program, defined } = tool();
    program.withAllOptions();
    assert.deepEqual(defined, ['one', 'two']);
    assert.deepEqual(
      program.commands.map((command) => command.options.length),
      [2, 2],
    );
  });
});
