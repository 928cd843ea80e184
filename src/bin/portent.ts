// The `portent` executable: runs the CLI and exits with its code.

import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2));
