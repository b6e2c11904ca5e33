// The renderer's only door to the main process: the object preload exposes. Types come from the contract.
import type { KeyCeremonyApi, Result } from '../../../src-preload/contract';

declare global {
  interface Window {
    keyceremony: KeyCeremonyApi;
  }
}

export const api = (): KeyCeremonyApi => window.keyceremony;

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly remedy?: string,
  ) {
    super(message);
  }
}

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new ApiError(result.error.code, result.error.message, result.error.remedy);
}

export interface ShownError {
  code: string;
  message: string;
  remedy?: string;
}

export function toShownError(error: unknown): ShownError {
  if (error instanceof ApiError) return { code: error.code, message: error.message, ...(error.remedy ? { remedy: error.remedy } : {}) };
  return { code: 'RENDERER', message: error instanceof Error ? error.message : String(error) };
}
