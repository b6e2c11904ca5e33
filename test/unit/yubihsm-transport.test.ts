// Transports: the loopback rule and status parsing of the HTTP connector client, and the WebUSB transport
// against a fake USBDevice backed by the simulator (no YubiHSM exists on this machine).
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../hsm/errors.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import { HttpConnectorTransport, loopbackTarget, parseConnectorStatus } from '../../hsm/yubihsm/transport-http.js';
import { WebUsbTransport } from '../../hsm/yubihsm/transport-usb.js';
import { YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { FakeUsb, FakeYubiHsmUsb } from '../yubihsm-sim/fake-usb.js';

describe('HTTP connector: loopback only', () => {
  it.each([
    ['http://127.0.0.1:12345', 'http://127.0.0.1:12345'],
    ['http://localhost:12345/', 'http://127.0.0.1:12345'],
    ['http://127.1.2.3:80', 'http://127.1.2.3:80'],
    ['http://[::1]:12345', 'http://[::1]:12345'],
  ])('accepts %s', (url, display) => {
    expect(loopbackTarget(url).display).toBe(display);
  });

  it.each([
    ['http://10.0.0.5:12345', /10\.0\.0\.5 is not this computer/],
    ['http://yubihsm.example.com:12345', /yubihsm\.example\.com is not this computer/],
    ['http://0.0.0.0:12345', /0\.0\.0\.0 is not this computer/],
    ['https://127.0.0.1:12345', /only http:\/\//],
    ['http://user:pw@127.0.0.1:12345', /credentials/],
    ['http://127.0.0.1:12345/connector/api', /address only/],
    ['not a url', /not a URL/],
  ])('refuses %s', (url, why) => {
    let caught: unknown;
    try {
      new HttpConnectorTransport(url);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TokenError);
    expect((caught as TokenError).code).toBe('YUBIHSM_CONNECTOR_NOT_LOOPBACK');
    expect((caught as TokenError).message).toMatch(why);
    expect((caught as TokenError).message).toMatch(/only talks to a yubihsm-connector on this computer's loopback interface/);
  });

  it('parses /connector/status', () => {
    expect(parseConnectorStatus('status=OK\nserial=*\nversion=3.0.7\npid=4242\naddress=localhost\nport=12345\n')).toEqual({
      status: 'OK',
      serial: '*',
      version: '3.0.7',
      pid: 4242,
      address: 'localhost',
      port: 12345,
      raw: { status: 'OK', serial: '*', version: '3.0.7', pid: '4242', address: 'localhost', port: '12345' },
    });
    expect(parseConnectorStatus('status=NO_DEVICE\n').status).toBe('NO_DEVICE');
  });

  it('a connector that is not running is a clear error', async () => {
    const t = new HttpConnectorTransport('http://127.0.0.1:1');
    const e = await t.send(Uint8Array.of(6, 0, 0)).catch((err: unknown) => err);
    expect((e as TokenError).code).toBe('YUBIHSM_CONNECTOR_UNREACHABLE');
    expect((e as TokenError).message).toMatch(/^The yubihsm-connector at http:\/\/127\.0\.0\.1:1 cannot be reached \(ECONNREFUSED\)\.$/);
  });
});

/** A fake WebUSB device: bulk OUT collects packets until a short (or zero-length) one, then IN answers. */

describe('WebUSB transport (fake USBDevice backed by the simulator)', () => {
  it('opens configuration 1 / interface 0 and runs a session', async () => {
    const fake = new FakeYubiHsmUsb('1234567', new YubiHsmSimulator({ serial: 1234567 }));
    const usb = new FakeUsb([fake]);
    expect(await WebUsbTransport.list(usb)).toEqual(['1234567']);
    const t = await WebUsbTransport.open(usb, '1234567');
    expect([fake.opened, fake.configuration?.configurationValue, fake.claimed]).toEqual([true, 1, true]);
    const hsm = await YubiHsm.connect(t);
    const s = await hsm.openSession(1, 'password');
    expect(await cmd.getPseudoRandom(s, 32)).toHaveLength(32);
    await hsm.close();
    expect(fake.claimed).toBe(false);
  });

  it('sends a zero-length packet after a write that is a multiple of 64 bytes, and only then', async () => {
    const fake = new FakeYubiHsmUsb('1', new YubiHsmSimulator());
    const t = await WebUsbTransport.open(new FakeUsb([fake]));
    const echo64 = Uint8Array.from([0x01, 0x00, 61, ...new Array<number>(61).fill(7)]);
    const answer = await t.send(echo64);
    expect(answer[0]).toBe(0x81);
    expect(fake.writes).toEqual([64, 0]);
    fake.writes.length = 0;
    await t.send(Uint8Array.of(0x01, 0x00, 1, 9));
    expect(fake.writes).toEqual([4]);
  });

  it('an unplugged device is "the YubiHSM was unplugged", before and during a transfer', async () => {
    const fake = new FakeYubiHsmUsb('1', new YubiHsmSimulator());
    const usb = new FakeUsb([fake]);
    const t = await WebUsbTransport.open(usb);
    fake.unplugged = true; // yanked mid-flight, before the event arrives
    let e = (await t.send(Uint8Array.of(6, 0, 0)).catch((err: unknown) => err)) as TokenError;
    expect([e.code, e.message]).toEqual(['YUBIHSM_UNPLUGGED', 'The YubiHSM was unplugged.']);
    const t2 = await WebUsbTransport.open(new FakeUsb([new FakeYubiHsmUsb('2', new YubiHsmSimulator())]));
    const usb2 = t2 as unknown as { usb: FakeUsb };
    usb2.usb.unplug(t2.device as FakeYubiHsmUsb);
    e = (await t2.send(Uint8Array.of(6, 0, 0)).catch((err: unknown) => err)) as TokenError;
    expect(e.code).toBe('YUBIHSM_UNPLUGGED');
    expect(e.remedy).toMatch(/Plug it back in/);
  });

  it('no device, the wrong serial, or two devices: clear errors', async () => {
    const none = await WebUsbTransport.open(new FakeUsb([])).catch((e: unknown) => e);
    expect((none as TokenError).message).toBe('No YubiHSM 2 is plugged in.');
    const sim = new YubiHsmSimulator();
    const wrong = await WebUsbTransport.open(new FakeUsb([new FakeYubiHsmUsb('1', sim)]), '99').catch((e: unknown) => e);
    expect((wrong as TokenError).message).toBe('No YubiHSM 2 with serial 99 is plugged in (found: 1).');
    const two = await WebUsbTransport.open(new FakeUsb([new FakeYubiHsmUsb('1', sim), new FakeYubiHsmUsb('2', sim)])).catch((e: unknown) => e);
    expect((two as TokenError).message).toBe('2 YubiHSMs are plugged in.');
  });
});
