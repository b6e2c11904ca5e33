// The token label exactly as the token will store it. PKCS#11 keeps a label in a 32-byte field padded with
// spaces, so 'blank5 ' is stored as 'blank5' and the app could no longer find the token by the label it was
// given: such a label is refused, in words, before the ceremony starts and before any token is touched.
export const TOKEN_LABEL_BYTES = 32;

/** Why this label cannot be stored as given, or undefined. `field` names it in the message. */
export function tokenLabelProblem(label: unknown, field = 'tokenLabel'): string | undefined {
  if (typeof label !== 'string' || label.length === 0) return `${field} is missing`;
  if (/\s$/u.test(label)) return `${field} '${label}' ends with a space; a token pads its label with spaces, so it would store '${label.trimEnd()}' and the token could not be found by the label given. Remove the trailing space`;
  if (/^\s/u.test(label)) return `${field} '${label}' begins with a space. Remove the leading space`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(label)) return `${field} holds a control character; use letters, digits, spaces, '.', '_' or '-'`;
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes > TOKEN_LABEL_BYTES) return `${field} '${label}' is ${bytes} bytes in UTF-8; a token label holds at most ${TOKEN_LABEL_BYTES}. Shorten it`;
  return undefined;
}
