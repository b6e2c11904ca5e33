// The shape of a ceremony script, declared once with zod: strict objects everywhere (an unknown key is an
// error), so a typo such as `aprovals:` is refused instead of silently meaning "no approvals".
// Rules that span fields (unique step ids, confirmations for irreversible actions, placeholders) are in
// rules.ts; turning zod issues into messages with YAML paths and lines is in load.ts.
import { z } from 'zod';
import { ACTION_NAMES, type ActionName } from './actions.js';

export const SCRIPT_FORMAT = 'keyceremony-script/1';
export const KIND_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
export const STEP_ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
export const PARAMETER_NAME_PATTERN = /^[a-z][A-Za-z0-9]{0,63}$/;
export const CONFIRM_WORD_PATTERN = /^[A-Z][A-Z-]{2,31}$/;

const text = (max: number) => z.string().min(1).max(max);
const count = z.int().min(0).max(255);

const role = z.strictObject({ description: text(2000) });

const stringParameter = z.strictObject({
  type: z.literal('string'),
  /** What the form field says, in the room's words ("Token label"), never the parameter's name. */
  label: text(80),
  description: text(2000),
  minLength: count.optional(),
  maxLength: z.int().min(1).max(4096).optional(),
  /** A JavaScript regular expression the whole value must match (anchored by the engine). */
  pattern: z.string().optional(),
});
const integerParameter = z.strictObject({
  type: z.literal('integer'),
  /** What the form field says, in the room's words ("Token label"), never the parameter's name. */
  label: text(80),
  description: text(2000),
  min: z.int().optional(),
  max: z.int().optional(),
});
const booleanParameter = z.strictObject({
  type: z.literal('boolean'),
  /** What the form field says, in the room's words ("Token label"), never the parameter's name. */
  label: text(80),
  description: text(2000),
});
const custodiansParameter = z.strictObject({
  type: z.literal('custodians'),
  /** What the form field says, in the room's words ("Token label"), never the parameter's name. */
  label: text(80),
  description: text(2000),
  min: z.int().min(2).max(255).optional(),
  max: z.int().min(2).max(255).optional(),
});
export const parameterSchema = z.discriminatedUnion('type', [stringParameter, integerParameter, booleanParameter, custodiansParameter]);

const stepSchema = z.strictObject({
  id: z.string().regex(STEP_ID_PATTERN, { message: 'must be 1-64 characters of a-z 0-9 - starting with a letter' }),
  title: text(200),
  instructions: text(20000),
  action: z.enum(ACTION_NAMES as [ActionName, ...ActionName[]]),
  approvals: z.enum(['none', 'quorum']),
  confirm: z
    .strictObject({
      prompt: text(2000),
      word: z.string().regex(CONFIRM_WORD_PATTERN, { message: 'must be 3-32 capital letters or dashes, such as INITIALIZE' }),
    })
    .optional(),
});

export const scriptSchema = z.strictObject({
  format: z.literal(SCRIPT_FORMAT),
  kind: z.string().regex(KIND_PATTERN, { message: 'must be 1-64 characters of a-z 0-9 - starting with a letter' }),
  version: z.int().min(1),
  /** The ceremony's name on buttons and lists: no {{placeholders}} (the title has them). */
  label: text(80).refine((v) => !v.includes('{{'), { message: 'must not contain {{placeholders}}: the title may' }),
  title: text(200),
  description: text(20000).optional(),
  rehearsal: z.boolean(),
  roles: z.strictObject({
    administrator: role,
    custodians: z.strictObject({
      description: text(2000),
      /**
       * parameters: named by this ceremony (init-token); enrolment: those enrolled at init-token; domain: the
       * custodians of the security domain a new token joins (their shares are presented at join-domain).
       */
      source: z.enum(['parameters', 'enrolment', 'domain']),
    }),
    witnesses: z.strictObject({ description: text(2000), min: count }),
  }),
  parameters: z.record(z.string().regex(PARAMETER_NAME_PATTERN, { message: 'must be a name like tokenLabel (a-z first, then letters and digits)' }), parameterSchema),
  steps: z.array(stepSchema).min(1),
});

export type CeremonyScript = z.infer<typeof scriptSchema>;
export type ScriptStep = CeremonyScript['steps'][number];
export type ScriptParameter = z.infer<typeof parameterSchema>;
