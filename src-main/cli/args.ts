// Strict argument parsing shared by the commands: an unknown option is an error that names it.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export function parseStrict(argv: string[], options: NonNullable<ParseArgsConfig['options']>, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
