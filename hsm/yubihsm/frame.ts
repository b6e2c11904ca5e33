// Message framing: command byte, big-endian u16 payload length, payload. A response carries the command
// byte with 0x80 set, or 0x7F followed by one error byte.
import { concat, u16 } from './bytes.js';
import { Command, RESPONSE_FLAG, commandName } from './constants.js';
import { YubiHsmErrorCodes, deviceError, protocolError } from './errors.js';

export function encodeFrame(command: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`payload of ${payload.length} bytes does not fit a frame`);
  return concat(Uint8Array.of(command), u16(payload.length), payload);
}

export interface Frame {
  command: number;
  payload: Uint8Array;
}

/** Split a frame; undefined if it is shorter than its header says. Trailing bytes beyond the length are ignored. */
export function decodeFrame(raw: Uint8Array): Frame | undefined {
  if (raw.length < 3) return undefined;
  const length = ((raw[1] as number) << 8) | (raw[2] as number);
  if (raw.length < 3 + length) return undefined;
  return { command: raw[0] as number, payload: raw.subarray(3, 3 + length) };
}

/** The payload of the response to `command`, or the TokenError the response (or its malformation) means. */
export function expectResponse(raw: Uint8Array, command: number): Uint8Array {
  const frame = decodeFrame(raw);
  if (!frame) throw badResponse(`the answer to ${commandName(command)} was cut short (${raw.length} bytes)`);
  if (frame.command === Command.ERROR) {
    if (frame.payload.length < 1) throw badResponse(`the error answer to ${commandName(command)} carried no error code`);
    throw deviceError(frame.payload[0] as number, command);
  }
  if (frame.command !== (command | RESPONSE_FLAG))
    throw badResponse(`the answer to ${commandName(command)} was for command 0x${frame.command.toString(16)}`);
  return frame.payload;
}

export function badResponse(detail: string) {
  return protocolError(
    YubiHsmErrorCodes.BAD_RESPONSE,
    `The YubiHSM sent an answer that does not follow its protocol: ${detail}.`,
    'Re-plug the device and open a new session; if it persists, the device or the connector may be faulty.',
  );
}
