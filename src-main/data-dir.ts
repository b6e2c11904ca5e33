// One data directory for the app and the CLI, so a ceremony run from either sees the same transcripts,
// settings and SoftHSM tokens: $XDG_DATA_HOME/keyceremony, else ~/.local/share/keyceremony (on macOS and
// Windows the same path under the home folder; packaging may choose the platform's convention later).
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.local', 'share'), 'keyceremony');
}
