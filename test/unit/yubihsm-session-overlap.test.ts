// A session's messages are MAC'd on a chain: overlapping sends (the login's keep-alive ECHO firing while a
// step's command waits for its answer) must go out one after the other, or the device refuses the second
// message and closes the session (seen as a flaky idle-timeout test, and it would end a real ceremony's login).
import { describe, expect, it } from 'vitest';
import { Command } from '../../hsm/yubihsm/constants.js';
import * as cmd from '../../hsm/yubihsm/commands.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import { YubiHsmSimulator, SimulatorTransport } from '../yubihsm-sim/index.js';

describe('YubiHsmSession with overlapping sends', () => {
  it('answers every one of 50 overlapping commands and keeps the session open', async () => {
    const hsm = await YubiHsm.connect(new SimulatorTransport(new YubiHsmSimulator({ serial: 99 })));
    const session = await hsm.openSession(1, 'password');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? session.send(Command.ECHO, Uint8Array.of(i)) : cmd.getPseudoRandom(session, 8))),
    );
    answers.forEach((a, i) => {
      if (i % 2 === 0) expect([...a]).toEqual([i]);
      else expect(a).toHaveLength(8);
    });
    expect(session.isOpen).toBe(true);
    expect(await cmd.getPseudoRandom(session, 4)).toHaveLength(4);
    await session.close();
  });
});
