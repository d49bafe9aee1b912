import { readAll, runCli } from '../cli/program.js';

/** `npm run cli -- <command>`: operator commands (`--help` lists them). */
const code = await runCli(process.argv, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  readStdin: () => readAll(process.stdin),
  env: process.env,
});
process.exit(code);
