import { describe, expect, it } from 'vitest';
import { formatTokenUri, moduleNameOf, parsePkcs11Uri, uriMatches, type UriMatchTarget } from '../../../hsm/uri.js';
import { TokenError } from '../../../hsm/errors.js';

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

// RFC 7512 section 7, joined onto one line each (the RFC wraps them for presentation only).
describe('RFC 7512 section 7 examples', () => {
  it('pkcs11: (empty: matches everything)', () => {
    expect(parsePkcs11Uri('pkcs11:')).toEqual({ path: {}, query: {} });
  });

  it('object and type', () => {
    expect(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public').path).toEqual({ object: 'my-pubkey', type: 'public' });
  });

  it('pin-source in the query', () => {
    const u = parsePkcs11Uri('pkcs11:object=my-key;type=private?pin-source=file:/etc/token');
    expect(u.path).toEqual({ object: 'my-key', type: 'private' });
    expect(u.query).toEqual({ 'pin-source': 'file:/etc/token' });
  });

  it('token, manufacturer, model, id bytes and an empty serial', () => {
    const u = parsePkcs11Uri(
      'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin',
    );
    expect(u.path).toEqual({
      token: 'The Software PKCS#11 Softtoken',
      manufacturer: 'Snake Oil, Inc.',
      model: '1.0',
      object: 'my-certificate',
      type: 'cert',
      serial: '',
    });
    expect(hex(u.id)).toBe('69953e5cf4bdec91');
    expect(u.query['pin-source']).toBe('file:/etc/token_pin');
  });

  it('module-name', () => {
    expect(parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-name=mypkcs11').query).toEqual({ 'module-name': 'mypkcs11' });
  });

  it('module-path', () => {
    expect(parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1').query).toEqual({
      'module-path': '/mnt/libmypkcs11.so.1',
    });
  });

  it('pin-value', () => {
    const u = parsePkcs11Uri('pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin');
    expect(u.path).toEqual({ token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.' });
    expect(u.query).toEqual({ 'pin-value': 'the-pin' });
  });

  it('slot-description', () => {
    expect(parsePkcs11Uri('pkcs11:slot-description=Sun%20Metaslot').path).toEqual({ 'slot-description': 'Sun Metaslot' });
  });

  it('library attributes', () => {
    expect(parsePkcs11Uri('pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23').path).toEqual({
      'library-manufacturer': 'Snake Oil, Inc.',
      'library-description': 'Soft Token Library',
      'library-version': '1.23',
    });
  });

  it('an escaped % in a token name, mixed-case hex in id', () => {
    const u = parsePkcs11Uri('pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06');
    expect(u.path).toEqual({ token: 'My token% created by Joe', 'library-version': '3' });
    expect(hex(u.id)).toBe('010203baddcafe040506');
  });

  it('escaped % and ; in a token name', () => {
    expect(parsePkcs11Uri('pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert').path.token).toBe('A name with a substring %;');
  });

  it('UTF-8 in a token name', () => {
    expect(parsePkcs11Uri('pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert').path.token).toBe(
      'Name with a small A with acute: \u00e1',
    );
  });

  it('vendor attributes are ignored in path and query', () => {
    const u = parsePkcs11Uri('pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b');
    expect(u.path).toEqual({ token: 'my-token', object: 'my-certificate', type: 'cert' });
    expect(u.query).toEqual({ 'pin-source': 'file:/etc/token_pin' });
  });
});

describe('bad URIs name the bad part', () => {
  it.each([
    ['https://example.com', 'PKCS#11 URI "https://example.com" must start with "pkcs11:"'],
    ['pkcs11:token=a%2', 'PKCS#11 URI: attribute "token" has a bad percent escape "%2" (a % must be followed by two hex digits)'],
    ['pkcs11:token=a%zz', 'PKCS#11 URI: attribute "token" has a bad percent escape "%zz" (a % must be followed by two hex digits)'],
    ['pkcs11:token=a b', 'PKCS#11 URI: attribute "token" contains " ", which must be percent-encoded (%20)'],
    ['pkcs11:token=a;token=b', 'PKCS#11 URI: path attribute "token" appears more than once'],
    ['pkcs11:colour=red', 'PKCS#11 URI: unknown path attribute "colour"'],
    ['pkcs11:token', 'PKCS#11 URI: path part "token" must be attribute=value'],
    ['pkcs11:slot-id=abc', 'PKCS#11 URI: slot-id "abc" must be a decimal number'],
    ['pkcs11:type=secret', 'PKCS#11 URI: type "secret" must be one of public, private, cert, secret-key, data'],
    ['pkcs11:library-version=1.x', 'PKCS#11 URI: library-version "1.x" must be a version like "2" or "2.6"'],
    ['pkcs11:token=%C3', 'PKCS#11 URI: attribute "token" is not valid UTF-8 after percent-decoding'],
    ['pkcs11:?pin-value=1&pin-source=file:/x', 'PKCS#11 URI: pin-source and pin-value must not both be given'],
    ['pkcs11:?pin=1', 'PKCS#11 URI: unknown query attribute "pin"'],
    ['pkcs11:token=a#frag', 'PKCS#11 URI: a fragment ("#") is not allowed; percent-encode "#" as %23'],
  ])('%s', (uri, message) => {
    let error: unknown;
    try {
      parsePkcs11Uri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).code).toBe('URI_INVALID');
    expect((error as TokenError).message).toBe(message);
  });
});

describe('uriMatches', () => {
  const softhsm: UriMatchTarget = {
    module: { path: '/usr/lib/softhsm/libsofthsm2.so', manufacturer: 'SoftHSM', description: 'Implementation of PKCS11', version: { major: 2, minor: 6 } },
    slot: { slotId: '123', description: 'SoftHSM slot ID 0x7b', manufacturer: 'SoftHSM project' },
    token: { label: 'ceremony', manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: 'a9ad789142b8b1a8' },
  };
  const emptySlot: UriMatchTarget = { module: softhsm.module, slot: { slotId: '1', description: 'SoftHSM slot ID 0x1' } };

  it.each([
    ['pkcs11:', true],
    ['pkcs11:token=ceremony', true],
    ['pkcs11:token=other', false],
    ['pkcs11:token=ceremony;serial=a9ad789142b8b1a8;model=SoftHSM%20v2;manufacturer=SoftHSM%20project', true],
    ['pkcs11:token=ceremony;serial=0000', false],
    ['pkcs11:slot-id=123', true],
    ['pkcs11:slot-id=124', false],
    ['pkcs11:slot-description=SoftHSM%20slot%20ID%200x7b', true],
    ['pkcs11:library-manufacturer=SoftHSM;library-version=2.6', true],
    ['pkcs11:library-version=2', false],
    ['pkcs11:token=ceremony?module-name=softhsm2', true],
    ['pkcs11:token=ceremony?module-name=softokn3', false],
    ['pkcs11:token=ceremony?module-path=/usr/lib/softhsm/libsofthsm2.so', true],
    ['pkcs11:token=ceremony?module-path=/other.so', false],
    // Object attributes select objects, not tokens.
    ['pkcs11:token=ceremony;object=kek;type=secret-key', true],
  ])('%s -> %s', (uri, expected) => {
    expect(uriMatches(parsePkcs11Uri(uri), softhsm)).toBe(expected);
  });

  it('token attributes never match an empty slot; slot attributes can', () => {
    expect(uriMatches(parsePkcs11Uri('pkcs11:token=ceremony'), emptySlot)).toBe(false);
    expect(uriMatches(parsePkcs11Uri('pkcs11:slot-id=1'), emptySlot)).toBe(true);
  });

  it('library-version without a minor means minor 0', () => {
    expect(uriMatches(parsePkcs11Uri('pkcs11:library-version=3'), { ...softhsm, module: { ...softhsm.module, version: { major: 3, minor: 0 } } })).toBe(true);
  });
});

describe('formatting', () => {
  it('moduleNameOf strips lib prefix and .so suffixes', () => {
    expect(moduleNameOf('/usr/lib/softhsm/libsofthsm2.so')).toBe('softhsm2');
    expect(moduleNameOf('/mnt/libmypkcs11.so.1')).toBe('mypkcs11');
  });

  it('formatTokenUri round-trips through the parser', () => {
    const token = { label: 'A;b%c d=e', manufacturer: 'Snake Oil, Inc.', model: 'v2', serial: '01' };
    const uri = formatTokenUri(token);
    expect(uri).toBe('pkcs11:model=v2;manufacturer=Snake%20Oil,%20Inc.;serial=01;token=A%3Bb%25c%20d%3De');
    expect(parsePkcs11Uri(uri).path).toEqual({ model: 'v2', manufacturer: 'Snake Oil, Inc.', serial: '01', token: 'A;b%c d=e' });
  });
});
