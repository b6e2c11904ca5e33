// The C_Initialize parameters string is typed by the room; only the NSS softoken parameters that open an
// SQLite database folder are allowed, so no parameter can make a module open other files or libraries.
import { describe, expect, it } from 'vitest';
import { checkInitParameters } from '../../src-main/settings/init-parameters.js';

describe('init parameters', () => {
  it.each([
    "configdir='sql:/home/erin/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=",
    'configdir="sql:/tmp/db with space" flags=readOnly,noModDB',
    "configdir='sql:C:\\Users\\erin\\nssdb'",
    'configdir=sql:/tmp/db',
    '  flags=   ',
  ])('accepts %s', (text) => {
    expect(checkInitParameters(text)).toBe(text.trim());
  });

  it.each([
    ["configdir='dbm:/tmp/db'", 'initParameters: configdir must name an SQLite database as sql:/absolute/folder (other database types are not allowed), not "dbm:/tmp/db".'],
    ["configdir='rdb:/tmp/db'", 'initParameters: configdir must name an SQLite database'],
    ["configdir='/tmp/db'", 'initParameters: configdir must name an SQLite database'],
    ["configdir='sql:relative/db'", 'initParameters: configdir: "relative/db" must be an absolute folder without ".." or quotes.'],
    ["configdir='sql:/a/../b'", 'must be an absolute folder without ".."'],
    ["updatedir='/tmp/old'", 'initParameters: "updatedir" is not an allowed parameter (allowed: configdir, certPrefix, keyPrefix, secmod, flags).'],
    ["library='/tmp/evil.so'", 'initParameters: "library" is not an allowed parameter'],
    ["secmod='../pkcs11.txt'", 'initParameters: secmod must be a plain file name (letters, digits, dot, dash, underscore), not "../pkcs11.txt".'],
    ["certPrefix='a/b'", 'initParameters: certPrefix must be a plain file name'],
    ['flags=readOnly,loadModules', 'initParameters: flags: "loadModules" is not one of readOnly, noCertDB, noModDB, forceOpen, passwordRequired, optimizeSpace.'],
    ["flags= flags=readOnly", 'initParameters: flags is given twice.'],
    ["configdir='sql:/tmp/db", 'initParameters: cannot read "configdir=\'sql:/tmp/db"'],
    ['just text', 'initParameters: cannot read "just text"'],
  ])('refuses %s, naming the part', (text, message) => {
    expect(() => checkInitParameters(text)).toThrow(message);
  });
});
