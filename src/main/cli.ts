import { lowerPriority, rebuildsAtLowPriority } from '../cli/priority.js';

// a rebuild yields the CPU from its first module on: loading the commands takes a core for a second
if (rebuildsAtLowPriority(process.argv)) {
  try {
    lowerPriority();
  } catch {
    // the rebuild command says so when it tries again
  }
}
const { readAll, runCli } = await import('../cli/program.js');

/** `npm run cli -- <command>`: operator commands (`--help` lists them). */
const code = await runCli(process.argv, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  readStdin: () => readAll(process.stdin),
  env: process.env,
});
process.exit(code);
