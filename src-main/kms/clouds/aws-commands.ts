// The AWS rotation and replica commands IMPORT.md gives when the room chose an import type (June 2025).
import { shellOption, shellWord } from './shell.js';
import type { CloudTarget } from './types.js';

type Aws = Extract<CloudTarget, { cloud: 'aws' }>;

/** The options import-key-material takes for the chosen import type, shell-quoted where text is free. */
export function awsImportTypeOptions(a: Aws | undefined): string {
  if (!a?.importType) return '';
  let s = ` --import-type ${a.importType}`;
  if (a.keyMaterialDescription !== undefined) s += ` ${shellOption('--key-material-description', a.keyMaterialDescription)}`;
  if (a.keyMaterialId !== undefined) s += ` ${shellOption('--key-material-id', a.keyMaterialId)}`;
  return s;
}

export function awsRotationLines(a: Aws | undefined, keyRef: string): string[] {
  if (!a?.importType) return [];
  const key = shellWord(keyRef);
  const list = `aws kms list-key-rotations --key-id ${key} --include-key-material ALL_KEY_MATERIAL`;
  if (a.importType === 'NEW_KEY_MATERIAL') {
    return [
      ``,
      `Import type NEW_KEY_MATERIAL: this is new material for the key. If the key already had material (a`,
      `rotation), the import leaves it PENDING_ROTATION; make it current, then check the states:`,
      ``,
      '```',
      `aws kms rotate-key-on-demand --key-id ${key}`,
      list,
      '```',
      ``,
      `A multi-Region key: import this NEW material into the primary, then export the same material for each`,
      `replica with the kms-rewrap ceremony and --import-type EXISTING_KEY_MATERIAL, import it there, and only`,
      `then rotate the primary.`,
    ];
  }
  return [
    ``,
    `Import type EXISTING_KEY_MATERIAL: material this key (or its multi-Region primary) already has, e.g. for a`,
    `replica, or after the material expired. Check which material KMS matched:`,
    ``,
    '```',
    list,
    '```',
  ];
}
