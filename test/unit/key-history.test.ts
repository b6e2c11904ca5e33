// The key history a chain records (key-history.ts) and the refusal of a destroyed key (destroyed-keys.ts):
// which label is present, which destroyed and when, and that a key made again under a destroyed label is
// present again (the chain's last word on a label wins).
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src-main/errors.js';
import { destroyedKey, refuseIfDestroyed, KEY_DESTROYED } from '../../src-main/ceremony/actions/destroyed-keys.js';
import { keyHistory } from '../../src-main/ceremony/actions/key-history.js';

let seq = 0;
const entry = (ceremonyId: string, kind: string, data: Record<string, unknown>, time = '2026-12-01T10:00:00.000Z') => ({ ceremonyId, kind, data, seq: seq++, hash: `h${seq}`, time }) as never;
const made = (action: string, label: string, id = '0a', value = 'ABCDEF') => entry(`c-${label}-${action}`, 'result', { action, key: { label, keySpec: 'SYMMETRIC_DEFAULT', id }, checkValue: { value, method: 'AES-CMAC-ZERO-BLOCK' } });
const destroyed = (label: string, time: string) => entry(`destroy-${label}`, 'result', { action: 'destroy-key', key: { label, keySpec: 'SYMMETRIC_DEFAULT', id: '0a' } }, time);

describe('keyHistory', () => {
  it('records generate-key and restore-unwrap (restore-key) results as present keys, with who made them', () => {
    const h = keyHistory([made('generate-key', 'a'), made('restore-unwrap', 'b', '0b', '123456'), entry('x', 'intent', { action: 'generate-key', key: { label: 'c' } })]);
    expect([...h.present.keys()]).toEqual(['a', 'b']);
    expect(h.present.get('b')).toMatchObject({ idHex: '0b', checkValue: { value: '123456' }, by: { action: 'restore-unwrap', ceremonyId: 'c-b-restore-unwrap' } });
  });

  it('ignores a generate-key result without a check value (nothing to prove the key by)', () => {
    expect(keyHistory([entry('x', 'result', { action: 'generate-key', key: { label: 'a' } })]).present.size).toBe(0);
  });

  it('moves a destroyed key out of the present keys, and back when a key is made again under its label', () => {
    const h = keyHistory([made('generate-key', 'a'), destroyed('a', '2026-12-02T09:30:00.000Z')]);
    expect(h.present.has('a')).toBe(false);
    expect(h.destroyed.get('a')).toMatchObject({ ceremonyId: 'destroy-a', time: '2026-12-02T09:30:00.000Z', key: { by: { action: 'generate-key' } } });
    const again = keyHistory([made('generate-key', 'a'), destroyed('a', '2026-12-02T09:30:00.000Z'), made('generate-key', 'a', '0c', '654321')]);
    expect(again.destroyed.has('a')).toBe(false);
    expect(again.present.get('a')?.idHex).toBe('0c');
    expect(again.superseded.get('a')).toBe(1);
  });
});

describe('refuseIfDestroyed', () => {
  it('refuses a destroyed label with the date and the ceremony, naming the field', () => {
    const entries = [made('generate-key', 'a'), destroyed('a', '2026-12-02T09:30:00.000Z')];
    expect(destroyedKey(entries, 'a')?.ceremonyId).toBe('destroy-a');
    let error: unknown;
    try {
      refuseIfDestroyed(entries, 'a');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe(KEY_DESTROYED);
    expect((error as AppError).message).toMatch(/^parameters\.keyLabel: the key labelled 'a' was destroyed on 2026-12-02 \(2026-12-02T09:30:00\.000Z\) by ceremony destroy-a \(transcript entry \d+\)/);
  });

  it('lets a present or unknown label through', () => {
    const entries = [made('generate-key', 'a'), made('generate-key', 'b'), destroyed('a', '2026-12-02T09:30:00.000Z')];
    expect(() => refuseIfDestroyed(entries, 'b')).not.toThrow();
    expect(() => refuseIfDestroyed(entries, 'never')).not.toThrow();
  });
});
