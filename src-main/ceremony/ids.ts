// Identifier rules shared by ceremony scripts, share files and quorum records.

/**
 * A ceremony id. Deliberately the same rule as the transcript's ID_PATTERN (src-main/transcript/entry.ts),
 * which stores it in every entry; a unit test keeps the two equal without this module importing the
 * transcript.
 */
export const CEREMONY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const CEREMONY_ID_RULE = '1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit';
