import { AppError } from '../errors.js';

/** Codes of the transcript layer's failures; each error's message names the field or entry and the remedy. */
export const TranscriptErrorCodes = {
  ENTRY_INVALID: 'TRANSCRIPT_ENTRY_INVALID',
  CHAIN_BROKEN: 'TRANSCRIPT_CHAIN_BROKEN',
  JOURNAL_DAMAGED: 'TRANSCRIPT_JOURNAL_DAMAGED',
  CHECKPOINT_MISMATCH: 'TRANSCRIPT_CHECKPOINT_MISMATCH',
  CLOCK_BEHIND: 'TRANSCRIPT_CLOCK_BEHIND',
  STORE_CLOSED: 'TRANSCRIPT_STORE_CLOSED',
  NOT_GENESIS: 'TRANSCRIPT_NOT_GENESIS',
  RANGE_INVALID: 'TRANSCRIPT_RANGE_INVALID',
  EXPORT_EXISTS: 'TRANSCRIPT_EXPORT_EXISTS',
  EXPORT_FAILED: 'TRANSCRIPT_EXPORT_FAILED',
  AUDIT_KEY_REFUSED: 'TRANSCRIPT_AUDIT_KEY_REFUSED',
  CHAIN_HEAD_INVALID: 'TRANSCRIPT_CHAIN_HEAD_INVALID',
} as const;

export class TranscriptError extends AppError {
  constructor(code: string, message: string, remedy?: string) {
    super(code, message, remedy);
    this.name = 'TranscriptError';
  }
}
