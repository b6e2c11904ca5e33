// The shipped enrol-token script keeps the never-brick order whatever is edited later: nothing changes the
// token before the current PINs were checked and every share was written and proven, and the PIN change is
// the one step that needs the typed word. Also: what the room is told to bring, and when the recovery code
// treats a stopped enrol-token's shares as the way into the token.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditKeyMayExist, pinsMayHaveChanged, soPinMayHaveChanged } from '../../src-main/ceremony/actions/enrol-token.js';
import { ACTIONS, loadScriptFile } from '../../src-main/ceremony/script/index.js';
import { bringList } from '../../src-main/ceremony/script/preview.js';

describe('ceremonies/enrol-token.yaml', () => {
  it('checks the PINs, hands out and proves the shares, and only then changes the PINs', async () => {
    const { script } = await loadScriptFile(resolve('ceremonies/enrol-token.yaml'));
    const at = (action: string) => script.steps.findIndex((s) => s.action === action);
    expect(script.kind).toBe('enrol-token');
    expect(at('check-current-pins')).toBeGreaterThan(at('select-token'));
    expect(at('distribute-shares')).toBeGreaterThan(at('check-current-pins'));
    expect(at('prove-subsets')).toBeGreaterThan(at('distribute-shares'));
    expect(at('change-pins')).toBe(at('prove-subsets') + 1);
    // Before the PIN change, no step may change the token (only select-token and the PIN check touch it).
    const before = script.steps.slice(0, at('change-pins')).filter((s) => ACTIONS[s.action].touchesToken).map((s) => s.action);
    expect(before).toEqual(['select-token', 'check-current-pins']);
    expect(script.steps.filter((s) => s.confirm).map((s) => [s.action, s.confirm?.word])).toEqual([['change-pins', 'CHANGE-PINS']]);
    // The chain starts after the PIN change, and the enrolment is recorded in it.
    expect(at('write-genesis')).toBeGreaterThan(at('change-pins'));
    expect(at('enroll-custodians')).toBeGreaterThan(at('write-genesis'));
  });

  it('tells the room to bring the initialized token and its current PINs', async () => {
    const { script } = await loadScriptFile(resolve('ceremonies/enrol-token.yaml'));
    const items = bringList(script).map((b) => b.item);
    expect(items).toContain("The token, initialized with its vendor's tool");
    expect(items).toContain("The token's current user PIN (and its SO PIN, if that is to change too), as the vendor's tool set them");
    expect(items).not.toContain('The blank token to initialize');
  });
});

describe('pinsMayHaveChanged', () => {
  it('is true from the change-pins intent on (a crash can strike between C_SetPIN and the next record)', () => {
    expect(pinsMayHaveChanged([{ kind: 'share-issued', data: { custodian: 'alice' } }, { kind: 'result', data: { action: 'prove-subsets' } }])).toBe(false);
    expect(pinsMayHaveChanged([{ kind: 'intent', data: { action: 'check-current-pins' } }])).toBe(false);
    expect(pinsMayHaveChanged([{ kind: 'intent', data: { action: 'change-pins' } }])).toBe(true);
    expect(pinsMayHaveChanged([{ kind: 'pin-changed', data: { pin: 'user' } }])).toBe(true);
  });
});

describe('what a stopped enrol-token may have left (read by its way out)', () => {
  const soGiven = { kind: 'intent', data: { action: 'check-current-pins', input: { currentUserPin: 'given', currentSoPin: 'given' } } };
  const userChanged = { kind: 'pin-changed', data: { pin: 'user' } };
  it('the SO PIN may have changed only when it was given, the user PIN changed and no SO change was recorded', () => {
    expect(soPinMayHaveChanged([soGiven, userChanged])).toBe(true);
    expect(soPinMayHaveChanged([soGiven, userChanged, { kind: 'pin-changed', data: { pin: 'so' } }])).toBe(false);
    expect(soPinMayHaveChanged([soGiven, { kind: 'intent', data: { action: 'change-pins' } }])).toBe(false);
    expect(soPinMayHaveChanged([{ kind: 'intent', data: { action: 'check-current-pins', input: { currentUserPin: 'given', currentSoPin: 'not given' } } }, userChanged])).toBe(false);
  });
  it('its audit key may exist from its generate-audit-key intent on', () => {
    expect(auditKeyMayExist([userChanged, { kind: 'result', data: { action: 'change-pins' } }])).toBe(false);
    expect(auditKeyMayExist([{ kind: 'intent', data: { action: 'generate-audit-key' } }])).toBe(true);
  });
});
