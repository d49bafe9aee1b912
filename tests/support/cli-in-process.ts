import { spawn } from 'node:child_process';
import { runCli } from '../../src/cli/program.js';

/** What a CLI run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI's program run in this process (`runCli`, what src/main/cli.ts
 * calls), its output captured: for what does not need a process of its own
 * (help texts, commands against this process's databases). Each suite
 * still spawns the real binary for what it runs end to end.
 */
export async function cliInProcess(args: readonly string[], env: NodeJS.ProcessEnv = process.env, stdin = ''): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['node', 'cli', ...args], { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => stdin, env });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** The real binary (`node --import tsx src/main/cli.ts …`) run to its end, with `env` (the whole environment) and `stdin`. */
export function cliBinary(args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], { cwd: process.cwd(), env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
