// Every object of a YubiHSM 2 that this login may see, as the device describes it: LIST OBJECTS (no filter,
// or by id or label), then GET OBJECT INFO of each. Unlike findAll it leaves nothing out: authentication
// keys, templates, OTP AEAD keys and the opaque object that holds the token label are objects an auditor
// must see too. GET OBJECT INFO of an address the device no longer holds answers OBJECT_NOT_FOUND, which
// destroy-key records as its proof.
import type { DeviceObject, DeviceObjectQuery } from '../device-objects.js';
import { TokenError } from '../errors.js';
import * as cmd from './commands.js';
import { DeviceError, ObjectType, Origin, algorithmName, capabilityNames, objectTypeName, type ObjectTypeCode } from './constants.js';
import { encodeHandle, TYPES_OF_CLASS } from './token-layer-map.js';
import { deviceErrorCode } from './errors.js';
import type { YubiHsmSession } from './session.js';

const SEEN_BY_PKCS11 = new Set<number>(Object.values(TYPES_OF_CLASS).flat());

const words = (s: string) => s.toLowerCase().replace(/_/g, '-');

function domainList(mask: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= 16; d += 1) if (mask & (1 << (d - 1))) out.push(d);
  return out;
}

function originWords(origin: number): string {
  const parts: string[] = [];
  if (origin & Origin.GENERATED) parts.push('generated');
  if (origin & Origin.IMPORTED) parts.push('imported');
  if (origin & Origin.IMPORTED_WRAPPED) parts.push('imported-wrapped');
  return parts.join('+') || `origin 0x${origin.toString(16)}`;
}

/** The PKCS#11-view handles of an object (token-layer.ts findAll issues the same), none for types it does not show. */
function handlesOf(type: number, id: number, labelObjectId: number): string[] {
  if (!SEEN_BY_PKCS11.has(type) || (type === ObjectType.OPAQUE && id === labelObjectId)) return [];
  if (type === ObjectType.ASYMMETRIC_KEY) return [encodeHandle({ type, id, publicHalf: false }), encodeHandle({ type, id, publicHalf: true })];
  return [encodeHandle({ type, id, publicHalf: false })];
}

export function describeDeviceObject(info: cmd.ObjectInfo, labelObjectId: number): DeviceObject {
  return {
    type: words(objectTypeName(info.type)),
    typeCode: info.type,
    id: info.id,
    label: info.label,
    algorithm: words(algorithmName(info.algorithm)),
    capabilities: capabilityNames(info.capabilities).map(words),
    delegatedCapabilities: capabilityNames(info.delegatedCapabilities).map(words),
    domains: domainList(info.domains),
    origin: originWords(info.origin),
    sequence: info.sequence,
    size: info.size,
    handles: handlesOf(info.type, info.id, labelObjectId),
  };
}

/** Every object this session may see that matches `query` (all of them when empty), in the device's order. */
export async function listDeviceObjects(yh: YubiHsmSession, query: DeviceObjectQuery, labelObjectId: number): Promise<DeviceObject[]> {
  const refs = await cmd.listObjects(yh, { ...(query.id !== undefined ? { id: query.id } : {}), ...(query.label !== undefined ? { label: query.label } : {}) });
  const out: DeviceObject[] = [];
  for (const r of refs) out.push(describeDeviceObject(await cmd.getObjectInfo(yh, r.id, r.type as ObjectTypeCode), labelObjectId));
  return out;
}

/** GET OBJECT INFO of one address: the object, or null when the device answers OBJECT_NOT_FOUND. */
export async function deviceObjectAt(yh: YubiHsmSession, typeCode: number, id: number, labelObjectId: number): Promise<DeviceObject | null> {
  try {
    return describeDeviceObject(await cmd.getObjectInfo(yh, id, typeCode as ObjectTypeCode), labelObjectId);
  } catch (error) {
    if (error instanceof TokenError && error.code === deviceErrorCode(DeviceError.OBJECT_NOT_FOUND)) return null;
    throw error;
  }
}
