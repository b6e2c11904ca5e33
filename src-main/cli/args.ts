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

/** The module and the token a ceremony command works on: --module, and --slot N or --token URI (one of them). */
export function tokenChoice(values: { module?: string | undefined; slot?: string | undefined; token?: string | undefined }, what: string): { module: string; token: { slotId: string } | { uri: string } } {
  const module = values.module;
  if (!module) throw new UsageError('--module PATH is required (the PKCS#11 library of the token).');
  if (values.slot !== undefined && values.token !== undefined) throw new UsageError('give either --slot or --token, not both.');
  if (values.slot !== undefined) {
    if (!/^\d{1,20}$/.test(values.slot)) throw new UsageError(`--slot ${values.slot}: expected a slot number (see 'keyceremony tokens').`);
    return { module, token: { slotId: values.slot } };
  }
  if (values.token !== undefined) {
    if (!values.token.startsWith('pkcs11:')) throw new UsageError(`--token ${values.token}: expected a PKCS#11 URI such as pkcs11:token=NAME.`);
    return { module, token: { uri: values.token } };
  }
  throw new UsageError(`--slot N or --token URI is required (${what}).`);
}
