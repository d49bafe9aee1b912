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
