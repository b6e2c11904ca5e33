// Removable drives: the /proc/self/mountinfo parser against lines in the kernel's format (proc(5)), the
// decision for a chosen folder, and the real functions on this machine.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkChosenFolder, checkFolder, listRemovableDrives, parseMountInfo, removableLinuxMounts, type RemovableDrive } from '../../src-main/files/removable-drives.js';

// A laptop with a USB stick automounted by udisks (label with a space: escaped as \040), a second USB disk
// mounted by hand under /mnt, and the usual pseudo file systems.
const MOUNTINFO = [
  '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro',
  '23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
  '24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '25 22 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=8000000k,nr_inodes=2000000,mode=755',
  '30 22 0:25 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=1600000k,mode=755',
  '31 22 259:1 / /boot/efi rw,relatime shared:30 - vfat /dev/nvme0n1p1 rw,fmask=0077,dmask=0077',
  '412 30 8:17 / /run/media/erin/KEY\\040STICK rw,nosuid,nodev,relatime shared:233 - vfat /dev/sdb1 rw,uid=1000,gid=1000,fmask=0022',
  '420 22 8:33 / /mnt/usbdisk rw,relatime shared:240 - ext4 /dev/sdc1 rw',
  '421 22 8:49 / /media/erin/BACKUP rw,relatime master:1 - exfat /dev/sdd1 rw',
  'garbage line without the separator',
  '',
].join('\n');

describe('parseMountInfo', () => {
  it('reads device, mount point (unescaped), type and source, with or without optional fields', () => {
    const mounts = parseMountInfo(MOUNTINFO);
    expect(mounts).toHaveLength(9);
    expect(mounts[0]).toEqual({ device: '259:2', mountPoint: '/', fsType: 'ext4', source: '/dev/nvme0n1p2' });
    expect(mounts.find((m) => m.device === '8:17')).toEqual({ device: '8:17', mountPoint: '/run/media/erin/KEY STICK', fsType: 'vfat', source: '/dev/sdb1' });
    expect(mounts.find((m) => m.device === '8:49')?.mountPoint).toBe('/media/erin/BACKUP');
  });

  it('reads the kernel output of this machine', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => undefined);
    if (text === undefined) {
      console.log('skipped: this machine has no /proc/self/mountinfo (not Linux)');
      return;
    }
    const mounts = parseMountInfo(text);
    expect(mounts.length).toBe(text.trim().split('\n').length);
    expect(mounts.some((m) => m.mountPoint === '/')).toBe(true);
  });
});

describe('which mounts are removable', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  it('counts mounts under /media and /run/media, and devices sysfs calls removable; never pseudo file systems or /', () => {
    const drives = removableLinuxMounts(mounts, (device) => device === '8:33' || device === '0:21' || device === '259:2');
    expect(drives.map((d) => [d.mountPoint, d.why])).toEqual([
      ['/run/media/erin/KEY STICK', 'media-folder'],
      ['/mnt/usbdisk', 'sysfs-removable'],
      ['/media/erin/BACKUP', 'media-folder'],
    ]);
  });

  it('decides by the deepest mount holding the folder', () => {
    const drives = removableLinuxMounts(mounts, () => false);
    expect(checkFolder('/run/media/erin/KEY STICK/shares', drives, mounts, 'linux')).toMatchObject({ onRemovable: true, drive: { source: '/dev/sdb1' } });
    expect(checkFolder('/media/erin/BACKUP', drives, mounts, 'linux').onRemovable).toBe(true);
    // /media/erin itself is a folder on the laptop's disk, not a mount.
    expect(checkFolder('/media/erin', drives, mounts, 'linux')).toEqual({
      onRemovable: false,
      message: '/media/erin is not on a removable drive (it is on /, /dev/nvme0n1p2). Choose a folder on the USB stick, or go on only if the room agrees.',
    });
    expect(checkFolder('/run/media/erin/KEY STICKER', drives, mounts, 'linux').onRemovable).toBe(false);
    expect(checkFolder('/home/erin', drives, mounts, 'linux').message).toContain('is not on a removable drive');
  });

  it('on macOS: a folder under a /Volumes entry; on Windows: the system drive is not removable, other letters are not confirmed', () => {
    const volumes: RemovableDrive[] = [{ mountPoint: '/Volumes/KEYSTICK', source: 'KEYSTICK', why: 'macos-volume' }];
    expect(checkFolder('/Volumes/KEYSTICK/out', volumes, undefined, 'darwin').onRemovable).toBe(true);
    expect(checkFolder('/Users/erin/out', volumes, undefined, 'darwin').onRemovable).toBe(false);
    const letters: RemovableDrive[] = [{ mountPoint: 'E:\\', source: 'E:', why: 'drive-letter-unconfirmed' }];
    expect(checkFolder('C:\\Users\\erin', letters, undefined, 'win32').onRemovable).toBe(false);
    expect(checkFolder('e:\\out', letters, undefined, 'win32')).toMatchObject({ onRemovable: null, message: expect.stringContaining('cannot confirm') });
  });
});

describe('on this machine', () => {
  it('lists well-formed drives and says a temp folder is not on one', async () => {
    const drives = await listRemovableDrives();
    for (const d of drives) {
      expect(d.mountPoint.startsWith('/') || /^[A-Z]:\\$/.test(d.mountPoint)).toBe(true);
      expect(['media-folder', 'sysfs-removable', 'macos-volume', 'drive-letter-unconfirmed']).toContain(d.why);
      expect(typeof d.source).toBe('string');
    }
    const dir = await mkdtemp(join(tmpdir(), 'kc-removable-'));
    try {
      const check = await checkChosenFolder(dir);
      const onADrive = drives.some((d) => dir.startsWith(d.mountPoint));
      if (!onADrive) expect(check.onRemovable).toBe(false);
      expect(check.message).toContain(dir.split('/').at(-1));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
