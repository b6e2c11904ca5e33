// The RFC 7512 URI that selects one token: its label, narrowed by manufacturer, model and serial so that
// two tokens sharing a label stay distinguishable.
import type { TokenInfo } from '../../hsm/types.js';

// RFC 7512 pchar minus the separators ';', '?', '&' and '/', which must be percent-encoded in values.
function encodeValue(value: string): string {
  return Array.from(new TextEncoder().encode(value))
    .map((byte) => {
      const ch = String.fromCharCode(byte);
      return /[A-Za-z0-9\-._~:@!$'()*+,=]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export function tokenUri(token: Pick<TokenInfo, 'label' | 'manufacturer' | 'model' | 'serial'>): string {
  const parts = [
    ['model', token.model],
    ['manufacturer', token.manufacturer],
    ['serial', token.serial],
    ['token', token.label],
  ].filter(([, v]) => v !== '');
  return `pkcs11:${parts.map(([k, v]) => `${k}=${encodeValue(v as string)}`).join(';')}`;
}
