// The YubiHSM part of audit-token (device-inventory.ts), from a device list alone: the app's two
// authentication keys and label object are recognised; a capability init-token never gives, an object in
// another domain, an object no PKCS#11 handle stands for, and a recorded generated key the device says was
// imported are each a finding with the exact words.
import { describe, expect, it } from 'vitest';
import type { DeviceObject } from '../../hsm/device-objects.js';
import { classifyDeviceObjects } from '../../src-main/ceremony/actions/device-inventory.js';
import type { KeyRecord } from '../../src-main/ceremony/actions/key-history.js';

const obj = (o: Partial<DeviceObject> & Pick<DeviceObject, 'type' | 'typeCode' | 'id' | 'label'>): DeviceObject => ({
  algorithm: 'aes256', capabilities: [], delegatedCapabilities: [], domains: [1], origin: 'generated', sequence: 0, size: 32, handles: [], ...o,
});
const operator = obj({ type: 'authentication-key', typeCode: 2, id: 3, label: 'keyceremony-operator', algorithm: 'aes128-yubico-authentication', capabilities: ['generate-asymmetric-key', 'sign-ecdsa'], delegatedCapabilities: ['sign-ecdsa'] });
const labelObject = obj({ type: 'opaque', typeCode: 1, id: 0xfff0, label: 'keyceremony-label', algorithm: 'opaque-data', origin: 'imported' });
const key = obj({ type: 'symmetric-key', typeCode: 8, id: 0x1234, label: 'k', handles: ['8:4660'] });
const record = { label: 'k', keySpec: 'SYMMETRIC_DEFAULT', idHex: '1234', checkValue: { value: 'ABCDEF', method: 'AES-CMAC-ZERO-BLOCK' }, by: { action: 'generate-key', ceremonyId: 'kms-import-1', seq: 9, hash: 'h', time: '2026-12-01T10:00:00.000Z' } } as KeyRecord;
const roles = (h: string) => (h === '8:4660' ? "key 'k'" : undefined);
const keys = (h: string) => (h === '8:4660' ? record : undefined);

describe('classifyDeviceObjects', () => {
  it("gives the app's objects their roles and finds nothing on a device that holds only them", () => {
    const r = classifyDeviceObjects([operator, labelObject, key], roles, keys);
    expect(r.findings).toEqual([]);
    expect(r.objects.map((o) => o.role)).toEqual(["operator authentication key (the user PIN, derived from the custodians' secret)", 'token label (set by init-token)', "key 'k'"]);
    expect(r.objects[0]).not.toHaveProperty('handles');
  });

  it('finds what the app never makes, in words', () => {
    const r = classifyDeviceObjects(
      [
        { ...operator, capabilities: [...operator.capabilities, 'reset-device'] },
        obj({ type: 'template', typeCode: 6, id: 7, label: 'tpl', algorithm: 'template-ssh', capabilities: ['get-template'] }),
        obj({ type: 'opaque', typeCode: 1, id: 8, label: 'elsewhere', algorithm: 'opaque-data', domains: [1, 5], handles: ['1:8'] }),
        { ...key, origin: 'imported' },
      ],
      (h) => (h === '1:8' ? 'not recorded by any ceremony' : roles(h)),
      keys,
    );
    expect(r.findings).toEqual([
      { kind: 'transcript-objects', message: "authentication-key 0x0003 'keyceremony-operator' (aes128-yubico-authentication) carries capabilities init-token never gives it: reset-device" },
      { kind: 'unrecorded-object', message: "template 0x0007 'tpl' (template-ssh), capabilities get-template, was made by no ceremony recorded in this token's transcript" },
      { kind: 'unrecorded-object', message: "opaque 0x0008 'elsewhere' (opaque-data) belongs to domain(s) 5, where no ceremony puts anything" },
      { kind: 'key-differs', message: "symmetric-key 0x1234 'k' (aes256) holds the key 'k' that generate-key of ceremony kms-import-1 generated inside the device, but the device says it was imported: its material came from outside" },
    ]);
  });
});
