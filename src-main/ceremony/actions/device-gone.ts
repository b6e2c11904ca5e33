// destroy-key on a device that describes its own objects (the YubiHSM 2): before the destruction, the device
// addresses (type, id) behind the key's PKCS#11 handles; after it, the device's own answers, recorded as the
// proof: LIST OBJECTS by the key's id and by its label hold nothing, and GET OBJECT INFO of every address
// that held a part of the key answers OBJECT_NOT_FOUND. A key pair is one device object; an opaque object
// (a certificate) or any other object sharing its id or label was destroyed with it and is checked too.
import type { DeviceObject } from '../../../hsm/device-objects.js';
import type { TokenLayer } from '../../../hsm/token.js';
import type { SessionHandle } from '../../../hsm/types.js';

export interface DeviceAddress {
  type: string;
  typeCode: number;
  id: number;
}

export interface DeviceGone {
  listedById: number;
  listedByLabel: number;
  objectInfo: { type: string; id: number; found: boolean }[];
}

/** The device addresses behind these PKCS#11 handles (the key's objects), or null on a layer without a device list. */
export async function deviceAddressesOf(layer: TokenLayer, session: SessionHandle, handles: readonly string[], label: string, ids: readonly number[]): Promise<DeviceAddress[] | null> {
  if (!layer.deviceObjects) return null;
  const seen: DeviceObject[] = [];
  const byLabel = await layer.deviceObjects(session, { label });
  if (!byLabel) return null;
  seen.push(...byLabel);
  for (const id of ids) seen.push(...((await layer.deviceObjects(session, { id })) ?? []));
  const wanted = new Set(handles);
  const out = new Map<string, DeviceAddress>();
  for (const o of seen) if (o.handles.some((h) => wanted.has(h))) out.set(`${o.typeCode}:${o.id}`, { type: o.type, typeCode: o.typeCode, id: o.id });
  return [...out.values()];
}

/** The device's answers after the destruction: every count 0 and every found false when the key is gone. */
export async function deviceGone(layer: TokenLayer, session: SessionHandle, addresses: readonly DeviceAddress[], label: string): Promise<DeviceGone> {
  const list = async (q: { id?: number; label?: string }) => (await layer.deviceObjects?.(session, q)) ?? [];
  // Ids are per type on the device: by id, only objects of the types the key's parts had count.
  const types = new Set(addresses.map((a) => a.typeCode));
  let listedById = 0;
  for (const id of new Set(addresses.map((a) => a.id))) listedById += (await list({ id })).filter((o) => types.has(o.typeCode)).length;
  const listedByLabel = (await list({ label })).length;
  const objectInfo: DeviceGone['objectInfo'] = [];
  for (const a of addresses) objectInfo.push({ type: a.type, id: a.id, found: (await layer.deviceObjectAt?.(session, a.typeCode, a.id)) != null });
  return { listedById, listedByLabel, objectInfo };
}

export const isGone = (g: DeviceGone) => g.listedById === 0 && g.listedByLabel === 0 && g.objectInfo.every((o) => !o.found);
