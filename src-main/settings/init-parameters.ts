// The C_Initialize parameters string a module may be given (NSS softoken needs one). It is typed by the
// room, so it is read strictly: NSS would otherwise accept database types and settings that open other
// files or libraries (a dbm: or extern: database, an update directory), and main must never be talked into
// loading native code by a string. Allowed, each at most once, separated by spaces:
//   configdir='sql:/absolute/dir'   the SQLite database folder (sql: only)
//   certPrefix='NAME' keyPrefix='NAME' secmod='NAME'   plain file names (letters, digits, . _ -)
//   flags=A,B   from readOnly, noCertDB, noModDB, forceOpen, passwordRequired, optimizeSpace
// Values may be in single or double quotes, or bare when they hold no space.
import { AppError } from '../errors.js';

const REMEDY = "Give NSS softoken parameters as configdir='sql:/path/to/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags= (see docs/tokens.md for what is allowed), or leave the field empty.";
const PLAIN_NAME = /^[A-Za-z0-9._-]{0,64}$/;
const FLAGS = new Set(['readOnly', 'noCertDB', 'noModDB', 'forceOpen', 'passwordRequired', 'optimizeSpace']);

const refuse = (what: string): never => {
  throw new AppError('MODULE_INIT_PARAMETERS_INVALID', `initParameters: ${what}.`, REMEDY);
};

function checkValue(key: string, value: string): void {
  switch (key) {
    case 'configdir': {
      const m = /^sql:(.+)$/.exec(value);
      if (!m) refuse(`configdir must name an SQLite database as sql:/absolute/folder (other database types are not allowed), not "${value}"`);
      const dir = m![1]!;
      if (!(dir.startsWith('/') || /^[A-Za-z]:[\\/]/.test(dir)) || /[\0'"]/.test(dir) || dir.split(/[\\/]/).includes('..')) refuse(`configdir: "${dir}" must be an absolute folder without ".." or quotes`);
      return;
    }
    case 'certPrefix':
    case 'keyPrefix':
    case 'secmod':
      if (!PLAIN_NAME.test(value) || value === '.' || value === '..' || (key === 'secmod' && value === '')) refuse(`${key} must be a plain file name (letters, digits, dot, dash, underscore), not "${value}"`);
      return;
    case 'flags':
      for (const flag of value === '' ? [] : value.split(',')) if (!FLAGS.has(flag.trim())) refuse(`flags: "${flag}" is not one of ${[...FLAGS].join(', ')}`);
      return;
    default:
      refuse(`"${key}" is not an allowed parameter (allowed: configdir, certPrefix, keyPrefix, secmod, flags)`);
  }
}

/** The parameters, trimmed, if every part is allowed; otherwise an error naming the part. */
export function checkInitParameters(text: string): string {
  const input = text.trim();
  const seen = new Set<string>();
  let rest = input;
  while (rest !== '') {
    const m = /^([A-Za-z]+)=(?:'([^']*)'|"([^"]*)"|([^\s'"]*))(?:\s+|$)/.exec(rest);
    if (!m) refuse(`cannot read "${rest.slice(0, 60)}" (expected name=value, the value in quotes when it holds spaces)`);
    const [all, key, single, double, bare] = m!;
    if (seen.has(key!)) refuse(`${key} is given twice`);
    seen.add(key!);
    checkValue(key!, single ?? double ?? bare ?? '');
    rest = rest.slice(all.length);
  }
  return input;
}
