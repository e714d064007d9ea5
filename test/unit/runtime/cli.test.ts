import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GUESTNET_VERSION, outputWidth, PIPE_WIDTH } from '@guestnet/runtime';

// A child node that imports the shared CLI helpers the way both agents do.
function runScript(body: string): Promise<{ code: number | null; stderr: string }> {
  const script = `import { installExitGuard } from '@guestnet/runtime';\nconst settled = installExitGuard('agent');\n${body}`;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], (_error, _stdout, stderr) =>
      resolve({ code: child.exitCode, stderr }),
    );
  });
}

describe('runtime CLI exit guard', () => {
  it('turns an exit with the command still pending into exit 1 and one line', async () => {
    const result = await runScript('new Promise(() => {}).then(settled);');
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'agent: internal error: stopped before the command finished\n');
  });

  it('stays silent once the command has settled', async () => {
    const result = await runScript('settled();');
    assert.deepEqual(result, { code: 0, stderr: '' });
  });

  it('leaves a failure exit code as it is', async () => {
    const result = await runScript('process.exitCode = 9;');
    assert.deepEqual(result, { code: 9, stderr: '' });
  });
});

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

// A child CLI built like both agents: commander with the shared output settings and the one failure report.
function runCli(argv: string[], json = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import { Command } from 'commander';
import { reportCliFailure, STDOUT_FOR_COMMANDER } from '@guestnet/runtime';
const program = new Command('agent').exitOverride().configureOutput({ ...STDOUT_FOR_COMMANDER, outputError: () => {} });
program.command('attach').argument('<pid>').option('--timeout <ms>').action(() => {});
program.command('status').action(() => {});
program.parseAsync(${JSON.stringify(['node', 'agent', ...argv])}).catch((e) => {
  process.exitCode = reportCliFailure('agent', e, { json: ${json} });
});`;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe('runtime CLI output', () => {
  it('a bare command prints its help on stdout and exits 0', async () => {
    const result = await runCli([]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: agent \[options\] \[command\]/);
    assert.equal(result.stderr, '');
  });

  it('"did you mean" stays on the one line of the error', async () => {
    const result = await runCli(['attac']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "agent: unknown command 'attac'; did you mean attach? (see agent --help)\n");
    const flag = await runCli(['attach', '1', '--timeot', '5']);
    assert.equal(flag.stderr, "agent: unknown option '--timeot'; did you mean --timeout? (see agent --help)\n");
  });

  it('with --json, an error is one JSON value on one line, with no newline inside', async () => {
    const result = await runCli(['attac'], true);
    assert.equal(result.code, 2);
    assert.equal(result.stdout.split('\n').length, 2, result.stdout);
    assert.deepEqual(JSON.parse(result.stdout), {
      error: { code: 'usage', exitCode: 2, message: "unknown command 'attac'; did you mean attach? (see agent --help)" },
    });
  });

  it('fits output to COLUMNS or the terminal, and to at most 80 columns through a pipe', () => {
    assert.equal(PIPE_WIDTH, 80);
    assert.equal(outputWidth({}, false), 80);
    assert.equal(outputWidth({ COLUMNS: '200' }, false), 80);
    assert.equal(outputWidth({ COLUMNS: '60' }, false), 60);
    assert.equal(outputWidth({ COLUMNS: '80' }, true), 80);
    assert.equal(outputWidth({ COLUMNS: '132' }, true), 132);
    assert.equal(outputWidth({ COLUMNS: 'wide' }, false), 80);
  });

  it('has one version, that of every package', () => {
    for (const pkg of ['package.json', 'runtime/package.json', 'host-agent/package.json', 'guest-agent/package.json']) {
      assert.equal(JSON.parse(readFileSync(`${ROOT}/${pkg}`, 'utf8')).version, GUESTNET_VERSION, pkg);
    }
  });
});
