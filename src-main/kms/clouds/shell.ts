// The commands IMPORT.md and the manifest print are pasted into a shell on a connected machine. The readers
// already refuse names outside each cloud's alphabet, but a command line must stay one harmless command even
// for a value that slipped past them (a custom ceremony script with a looser label pattern, a future cloud
// name rule): every value printed into a command goes through here.

/** Characters a POSIX shell gives no meaning to inside a word. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word: the value as is when it is plain, else single-quoted (a ' inside becomes '\''). */
export function shellWord(value: string): string {
  if (PLAIN.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `--flag VALUE` as one option of a CLI built on an option parser (gcloud, az, aws): a value starting with a
 * dash would be read as the next option, so it is joined to its flag (`--flag=-x`), which argparse-style
 * parsers read as the value.
 */
export function shellOption(flag: string, value: string): string {
  return value.startsWith('-') ? shellWord(`${flag}=${value}`) : `${flag} ${shellWord(value)}`;
}
