import type { ErrorData } from '../hsm/types.js';

/** A failure of the app's own logic (settings, files, input), carried across IPC as data like TokenError. */
export class AppError extends Error {
  readonly code: string;
  readonly remedy: string | undefined;

  constructor(code: string, message: string, remedy?: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.remedy = remedy;
  }

  toData(): ErrorData {
    return this.remedy === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, remedy: this.remedy };
  }
}
