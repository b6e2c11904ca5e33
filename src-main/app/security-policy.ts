// Kept apart from security.ts so that code without Electron (the e2e harness) can serve the same policy.
import { APP_ORIGIN } from './app-origin.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Requests the renderer may make: its own files (app://keyceremony/), and in development the local Vite server. */
export function isAllowedRequest(url: string, devServerUrl: string | undefined): boolean {
  if (url.startsWith(`${APP_ORIGIN}/`)) return true;
  if (devServerUrl && url.startsWith('devtools://')) return true;
  if (!devServerUrl) return false;
  try {
    const dev = new URL(devServerUrl);
    const target = new URL(url);
    return target.host === dev.host && ['http:', 'ws:'].includes(target.protocol);
  } catch {
    return false;
  }
}
