// Which mounted drives are removable, and whether a chosen folder is on one: the room is warned (not
// stopped) when a share, key or transcript is about to be written to the laptop's own disk.
//   Linux: /proc/self/mountinfo; a mount is removable when it is under /media or /run/media (where udisks
//     mounts USB media) or its block device (or the disk holding the partition) says removable=1 in sysfs.
//   macOS: every entry of /Volumes except the one that links to / (the system volume).
//   Windows: Node cannot ask whether a drive letter is removable without PowerShell or WMI, which we do not
//     spawn from the main process; drive letters other than the system drive are listed as not confirmed.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

export interface MountEntry {
  /** "major:minor" of the device. */
  device: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

export interface RemovableDrive {
  mountPoint: string;
  /** The device (/dev/sdb1), or the volume or drive letter where there is no device name. */
  source: string;
  fsType?: string;
  /** Why it is counted as removable. */
  why: 'media-folder' | 'sysfs-removable' | 'macos-volume' | 'drive-letter-unconfirmed';
}

export interface FolderCheck {
  /** true: on a removable drive; false: not; null: this system cannot tell. */
  onRemovable: boolean | null;
  /** The removable drive it is on, when it is. */
  drive?: RemovableDrive;
  /** One sentence for the room. */
  message: string;
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** Parse /proc/self/mountinfo (proc(5)): lines that do not have the documented shape are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    // id, parent, major:minor, root, mount point, options, [optional fields...], -, fstype, source, super options
    if (dash < 6 || fields.length < dash + 3) continue;
    const device = fields[2] as string;
    if (!/^\d+:\d+$/.test(device)) continue;
    out.push({ device, mountPoint: unescape(fields[4] as string), fsType: fields[dash + 1] as string, source: unescape(fields[dash + 2] as string) });
  }
  return out;
}

const MEDIA_ROOTS = ['/media/', '/run/media/'];
const PSEUDO = new Set(['proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'cgroup', 'cgroup2', 'overlay', 'mqueue', 'securityfs', 'debugfs', 'tracefs', 'pstore', 'bpf', 'autofs', 'hugetlbfs', 'configfs', 'fusectl', 'binfmt_misc', 'nsfs', 'ramfs', 'rpc_pipefs', 'squashfs']);

/** The removable drives among Linux mounts; `sysfsRemovable` answers whether a device is removable. */
export function removableLinuxMounts(mounts: readonly MountEntry[], sysfsRemovable: (device: string) => boolean): RemovableDrive[] {
  const out: RemovableDrive[] = [];
  for (const m of mounts) {
    if (PSEUDO.has(m.fsType)) continue;
    if (MEDIA_ROOTS.some((root) => m.mountPoint.startsWith(root))) out.push({ mountPoint: m.mountPoint, source: m.source, fsType: m.fsType, why: 'media-folder' });
    else if (m.mountPoint !== '/' && sysfsRemovable(m.device)) out.push({ mountPoint: m.mountPoint, source: m.source, fsType: m.fsType, why: 'sysfs-removable' });
  }
  return out;
}

const within = (path: string, mountPoint: string) => path === mountPoint || path.startsWith(mountPoint.endsWith(sep) ? mountPoint : mountPoint + sep);

/**
 * Decide for one folder (already resolved to its real path). On Linux the deepest mount holding the folder
 * decides: a folder on the laptop's disk inside /media (not a mount) is not on a stick.
 */
export function checkFolder(folder: string, drives: readonly RemovableDrive[], mounts?: readonly MountEntry[], platform: NodeJS.Platform = process.platform): FolderCheck {
  if (platform === 'win32') {
    const letter = /^([A-Za-z]):/.exec(folder)?.[1]?.toUpperCase();
    const drive = drives.find((d) => d.mountPoint.toUpperCase().startsWith(`${letter}:`));
    if (!drive) return { onRemovable: false, message: `${folder} is on the system drive, not on a removable drive. Choose the USB stick.` };
    return { onRemovable: null, drive, message: `${folder} is on drive ${letter}:, which is not the system drive; this app cannot confirm on Windows that it is removable. Check that it is the USB stick.` };
  }
  const candidates = mounts ? mounts.filter((m) => within(folder, m.mountPoint)) : drives.filter((d) => within(folder, d.mountPoint));
  const deepest = [...candidates].sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  const drive = deepest ? drives.find((d) => d.mountPoint === deepest.mountPoint) : undefined;
  if (drive) return { onRemovable: true, drive, message: `${folder} is on the removable drive mounted at ${drive.mountPoint} (${drive.source}).` };
  const where = deepest ? ` (it is on ${deepest.mountPoint}${'source' in deepest && deepest.source ? `, ${deepest.source}` : ''})` : '';
  return { onRemovable: false, message: `${folder} is not on a removable drive${where}. Choose a folder on the USB stick, or go on only if the room agrees.` };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** sysfs: /sys/dev/block/M:m/removable for a whole disk; a partition's directory sits inside its disk's. */
async function linuxSysfsRemovable(devices: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const device of devices) {
    const base = `/sys/dev/block/${device}`;
    const own = await readText(join(base, 'removable'));
    const parent = own === undefined ? await readText(join(base, '..', 'removable')) : undefined;
    if ((own ?? parent)?.trim() === '1') out.add(device);
  }
  return out;
}

async function linuxState(): Promise<{ drives: RemovableDrive[]; mounts: MountEntry[] }> {
  const mounts = parseMountInfo((await readText('/proc/self/mountinfo')) ?? '');
  const removable = await linuxSysfsRemovable([...new Set(mounts.filter((m) => !PSEUDO.has(m.fsType)).map((m) => m.device))]);
  return { drives: removableLinuxMounts(mounts, (d) => removable.has(d)), mounts };
}

async function macVolumes(): Promise<RemovableDrive[]> {
  let names: string[];
  try {
    names = await readdir('/Volumes');
  } catch {
    return [];
  }
  const out: RemovableDrive[] = [];
  for (const name of names) {
    const path = join('/Volumes', name);
    // The system volume appears in /Volumes as a link to /.
    if ((await realpath(path).catch(() => path)) === '/') continue;
    out.push({ mountPoint: path, source: name, why: 'macos-volume' });
  }
  return out;
}

async function windowsLetters(): Promise<RemovableDrive[]> {
  const system = (process.env.SystemDrive ?? 'C:').toUpperCase();
  const out: RemovableDrive[] = [];
  for (const code of 'CDEFGHIJKLMNOPQRSTUVWXYZ') {
    const root = `${code}:\\`;
    if (`${code}:` === system) continue;
    if (await stat(root).then(() => true, () => false)) out.push({ mountPoint: root, source: `${code}:`, why: 'drive-letter-unconfirmed' });
  }
  return out;
}

export async function listRemovableDrives(platform: NodeJS.Platform = process.platform): Promise<RemovableDrive[]> {
  if (platform === 'linux') return (await linuxState()).drives;
  if (platform === 'darwin') return macVolumes();
  if (platform === 'win32') return windowsLetters();
  return [];
}

/** Check the folder the room chose (an absolute path from main's dialog). */
export async function checkChosenFolder(folder: string, platform: NodeJS.Platform = process.platform): Promise<FolderCheck> {
  if (!isAbsolute(folder)) return { onRemovable: null, message: `${folder} is not an absolute path.` };
  const real = await realpath(folder).catch(() => resolve(folder));
  if (platform === 'linux') {
    const { drives, mounts } = await linuxState();
    return checkFolder(real, drives, mounts, platform);
  }
  return checkFolder(real, await listRemovableDrives(platform), undefined, platform);
}
