// A device error code raised inside a command handler; the device answers it as an error frame (0x7F).
export class DeviceFailure extends Error {
  constructor(readonly code: number) {
    super(`device error ${code}`);
  }
}

export const fail = (code: number): never => {
  throw new DeviceFailure(code);
};
