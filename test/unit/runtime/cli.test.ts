import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

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
