#!/usr/bin/env node
// The `fuseloss` command (package.json's bin): argument dispatch only; the command's body is src/train/cli.ts.
import { type Io, train, USAGE } from './train/cli';

export { train };

if (require.main === module) {
  const [cmd, ...rest] = process.argv.slice(2);
  const io: Io = { out: (s) => console.log(s), err: (s) => process.stderr.write(s), tty: Boolean(process.stderr.isTTY) };
  if (cmd !== 'train') {
    console.error(`fuseloss: unknown command '${cmd ?? ''}'\n${USAGE}`);
    process.exitCode = 2;
  } else {
    train(rest, io).then(
      (code) => (process.exitCode = code),
      (e: unknown) => {
        console.error(`fuseloss train: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = 1;
      },
    );
  }
}
