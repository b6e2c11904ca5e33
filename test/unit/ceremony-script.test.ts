import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ACTION_NAMES, ACTIONS } from '../../src-main/ceremony/script/actions.js';
import { loadScriptFile, parseScript, ScriptError } from '../../src-main/ceremony/script/load.js';
import { fillPlaceholders } from '../../src-main/ceremony/script/rules.js';

// A small valid script; each case below edits one line, so line numbers in messages are stable.
const BASE = `format: keyceremony-script/1
kind: test-ceremony
version: 2
label: Test ceremony
title: Test {{label}}
rehearsal: true
roles:
  administrator:
    description: Drives.
  custodians:
    description: Hold shares.
    source: parameters
  witnesses:
    description: Watch.
    min: 0
parameters:
  label:
    label: Label
    type: string
    description: A label.
  custodians:
    label: Custodians (N)
    type: custodians
    description: Who.
  threshold:
    label: Custodians needed (M)
    type: integer
    description: How many.
    min: 2
steps:
  - id: first
    title: First
    instructions: Read {{label}} aloud.
    action: announce
    approvals: none
  - id: init
    title: Init
    instructions: Erase.
    action: init-token
    approvals: none
    confirm:
      prompt: Type ERASE.
      word: ERASE
  - id: shares
    title: Shares
    instructions: Hand out.
    action: distribute-shares
    approvals: none
  - id: login
    title: Login
    instructions: Present shares.
    action: quorum-login
    approvals: quorum
`;

const lines = BASE.split('\n');
/** Replace line n (1-based) with `text` (may hold several lines, or none). */
const edit = (n: number, text: string | null) => {
  const copy = [...lines];
  copy.splice(n - 1, 1, ...(text === null ? [] : [text]));
  return copy.join('\n');
};
const parse = (yaml: string) => parseScript(Buffer.from(yaml), 'test.yaml');
const messageOf = (yaml: string) => {
  try {
    parse(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(ScriptError);
    return (e as Error).message;
  }
  return 'no error';
};

describe('ceremony script parser', () => {
  it('parses the base script and hashes the exact bytes', () => {
    const r = parse(BASE);
    expect(r.sha256).toBe(createHash('sha256').update(BASE).digest('hex'));
    expect(r.script.steps.map((s) => s.action)).toEqual(['announce', 'init-token', 'distribute-shares', 'quorum-login']);
    expect(r.script.rehearsal).toBe(true);
    expect(parse(`${BASE}\n`).sha256).not.toBe(r.sha256);
  });

  const cases: [string, string, string][] = [
    ['an unknown top-level key', edit(6, 'rehearsal: true\nrehersal: false'), 'test.yaml: rehersal: unknown key (line 7)'],
    ['an unknown step key', edit(35, '    approvals: none\n    aprovals: quorum'), 'test.yaml: steps[0].aprovals: unknown key (line 36)'],
    ['a wrong type', edit(43, '      word: 12'), 'test.yaml: steps[1].confirm.word: expected a string (line 43)'],
    ['a list for a string', edit(32, '    title: [a, b]'), 'test.yaml: steps[0].title: expected a string (line 32)'],
    ['an empty value', edit(32, '    title:'), 'test.yaml: steps[0].title: is empty; expected a string (line 32)'],
    ['a missing field', edit(33, null), 'test.yaml: steps[0].instructions: is missing (line 31)'],
    ['a missing top-level field', edit(6, null), 'test.yaml: rehearsal: is missing (line 1)'],
    ['an unknown action', edit(34, '    action: format-disk'), `test.yaml: steps[0].action: unknown action 'format-disk'; known actions: ${ACTION_NAMES.join(', ')} (line 34)`],
    ['a bad approvals value', edit(35, '    approvals: all'), 'test.yaml: steps[0].approvals: expected one of "none", "quorum" (line 35)'],
    ['a string for a boolean', edit(6, 'rehearsal: yes'), 'test.yaml: rehearsal: expected true or false (line 6)'],
    ['a fractional version', edit(3, 'version: 1.5'), 'test.yaml: version: expected an integer (line 3)'],
    ['another format', edit(1, 'format: keyceremony-script/2'), 'test.yaml: format: expected "keyceremony-script/1" (line 1)'],
    ['an unknown parameter type', edit(19, '    type: text'), 'test.yaml: parameters.label.type: expected one of string, integer, boolean, custodians (line 19)'],
    ['a bad step id', edit(31, '  - id: First'), 'test.yaml: steps[0].id: must be 1-64 characters of a-z 0-9 - starting with a letter (line 31)'],
    ['no steps', `${lines.slice(0, 29).join('\n')}\nsteps: []\n`, 'test.yaml: steps: must have at least 1 item (line 30)'],
    ['a duplicate step id', edit(36, '  - id: first'), "test.yaml: steps[1].id: 'first' is already the id of steps[0] (line 36)"],
    ['an irreversible step without confirm', lines.filter((_, i) => i < 40 || i > 42).join('\n'), 'test.yaml: steps[1].confirm: is missing: action init-token cannot be undone, so the step needs a confirmation word (line 36)'],
    ['a lowercase confirm word', edit(43, '      word: erase'), 'test.yaml: steps[1].confirm.word: must be 3-32 capital letters or dashes, such as INITIALIZE (line 43)'],
    ['quorum-login without quorum', edit(53, '    approvals: none'), 'test.yaml: steps[3].approvals: action quorum-login needs approvals: quorum (line 53)'],
    ['a quorum before shares exist', edit(35, '    approvals: quorum'), 'test.yaml: steps[0].approvals: a quorum needs shares, and no earlier step has action distribute-shares (line 35)'],
    ['a quorum on an action that takes none', edit(48, '    approvals: quorum'), 'test.yaml: steps[2].approvals: action distribute-shares does not take a quorum; use approvals: none (line 48)'],
    ['an unknown placeholder', edit(33, '    instructions: Read {{lable}} aloud.'), 'test.yaml: steps[0].instructions: unknown placeholder {{lable}}; use a parameter (label, custodians, threshold, ceremonyId) (line 33)'],
    ['no custodians parameter', edit(21, '  people:'), "test.yaml: parameters: needs a 'custodians' parameter of type custodians, because roles.custodians.source is parameters (line 17)"],
    ['a duplicate key', edit(6, 'rehearsal: true\nrehearsal: false'), 'test.yaml: YAML: Map keys must be unique (line 7)'],
    ['broken YAML', edit(32, '    title: "unterminated'), 'test.yaml: YAML: Missing closing "quote (line 54)'], // yaml reports where it gave up
    ['a tab in the indentation', edit(32, '\ttitle: First'), 'test.yaml: YAML: Tabs are not allowed as indentation (line 32)'],
    ['not a mapping', '- a\n- b\n', 'test.yaml: expected a mapping at the top level'],
    ['an empty file', '', 'test.yaml: the file is empty'],
  ];
  it.each(cases)('refuses %s', (_name, yaml, message) => {
    expect(messageOf(yaml)).toBe(message);
  });

  it('reports every problem, each with its line', () => {
    let error: ScriptError | undefined;
    try {
      parse(edit(34, '    action: nope\n    extra: 1'));
    } catch (e) {
      error = e as ScriptError;
    }
    expect(error?.problems.map((p) => [p.path, p.line])).toEqual([
      ['steps[0].action', 34],
      ['steps[0].extra', 35],
    ]);
    expect(error?.code).toBe('script-invalid');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => parseScript(Uint8Array.from([0xff, 0xfe, 0x00]), 'x.yaml')).toThrow('x.yaml: not UTF-8 text');
  });

  it('fills placeholders', () => {
    expect(fillPlaceholders('Token {{ tokenLabel }} for {{custodians}}, {{unknown}}', { tokenLabel: 'root', custodians: ['a', 'b'] })).toBe(
      'Token root for a, b, {{unknown}}',
    );
  });
});

describe('shipped ceremonies', () => {
  it('init-token loads, and its hash is over the file bytes', async () => {
    const r = await loadScriptFile('ceremonies/init-token.yaml');
    expect(r.source).toBe('init-token.yaml');
    expect(r.sha256).toBe(createHash('sha256').update(readFileSync('ceremonies/init-token.yaml')).digest('hex'));
    expect(r.script.kind).toBe('init-token');
    expect(r.script.rehearsal).toBe(false);
    expect(r.script.steps.map((s) => s.action)).toEqual([
      'record-participants', 'check-airgap', 'select-token', 'generate-secret', 'distribute-shares', 'prove-subsets', 'init-token',
      'set-pins', 'generate-audit-key', 'write-genesis', 'enroll-custodians', 'witness-sign-off', 'write-chain-head', 'export-bundle',
    ]);
    const irreversible = r.script.steps.filter((s) => ACTIONS[s.action].irreversible);
    expect(irreversible.map((s) => s.confirm?.word)).toEqual(['INITIALIZE']);
    expect(r.script.steps.filter((s) => s.approvals === 'quorum').map((s) => s.id)).toEqual(['head']);
  });

  it('a missing file is a clear error', async () => {
    await expect(loadScriptFile('ceremonies/nope.yaml')).rejects.toThrow('ceremonies/nope.yaml cannot be read (ENOENT).');
  });
});

describe('parameters', async () => {
  const { resolveParameters } = await import('../../src-main/ceremony/script/parameters.js');
  const { script } = await loadScriptFile('ceremonies/init-token.yaml');
  const good = { tokenLabel: 'KMS root 1', custodians: ['alice', 'bob', 'carol'], threshold: 2 };
  it('accepts good values and defaults booleans to false', () => {
    expect(resolveParameters(script, good)).toEqual({ ...good, allowReinitialize: false });
  });
  const cases: [string, Record<string, unknown>, string][] = [
    ['an unknown parameter', { ...good, label: 'x' }, 'parameters.label: not a parameter of init-token (its parameters: tokenLabel, custodians, threshold, allowReinitialize)'],
    ['a missing label', { custodians: good.custodians, threshold: 2 }, 'parameters.tokenLabel: is missing'],
    ['a long label', { ...good, tokenLabel: 'x'.repeat(33) }, 'parameters.tokenLabel: must be at most 32 characters'],
    ['a label off the pattern', { ...good, tokenLabel: ' lead' }, 'parameters.tokenLabel: must match [A-Za-z0-9]([A-Za-z0-9 ._-]*[A-Za-z0-9._-])?'],
    ['a label ending in a space (the token would store it without)', { ...good, tokenLabel: 'blank5 ' }, 'parameters.tokenLabel: must match [A-Za-z0-9]([A-Za-z0-9 ._-]*[A-Za-z0-9._-])?'],
    ['a string threshold', { ...good, threshold: '2' }, 'parameters.threshold: expected an integer'],
    ['threshold above N', { ...good, threshold: 4 }, 'parameters.threshold: 4 is not allowed with 3 custodians; it must be an integer from 2 to 3'],
    ['a duplicate custodian', { ...good, custodians: ['alice', 'ALICE'] }, "parameters.custodians[1]: 'ALICE' is already custodians[0] ('alice'); names must be unique (ignoring case)"],
    ['a bad custodian name', { ...good, custodians: ['alice', 'b c'] }, 'parameters.custodians[1]: must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit'],
    ['one custodian', { ...good, custodians: ['alice'] }, 'parameters.custodians: 1 named; at least 2 are needed'],
    ['a string boolean', { ...good, allowReinitialize: 'yes' }, 'parameters.allowReinitialize: expected true or false'],
  ];
  it.each(cases)('refuses %s', (_n, input, message) => {
    let got = 'no error';
    try {
      resolveParameters(script, input);
    } catch (e) {
      got = (e as Error).message;
    }
    expect(got).toBe(message);
  });
});

describe('docs', () => {
  it('docs/ceremony-scripts.md lists every action', () => {
    const doc = readFileSync('docs/ceremony-scripts.md', 'utf8').split('## Actions')[1] ?? '';
    const listed = [...doc.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(ACTION_NAMES);
  });
});
