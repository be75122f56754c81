"""`Turns`: lets executions onto the CPUs in arrival order, a few at a time.

Twenty kernels busy at once on two cores leave the order to the host's scheduler, which is not fair
across containers: some cells then wait 100 ms while others finish in 4. Admitting executions first
come, first served, `slots` at a time, makes the wait the same for everyone. A turn lasts at most
`hold` seconds: a longer cell gives its slot up and runs on beside the next ones, so a slow session
delays the others by no more than that.
"""

import asyncio
import contextlib


class Turns:
    def __init__(self, slots: int, hold: float):
        self._free = asyncio.Semaphore(slots)
        self.hold = hold

    @contextlib.asynccontextmanager
    async def turn(self):
        await self._free.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._free.release()

        timer = asyncio.get_running_loop().call_later(self.hold, release)
        try:
            yield
        finally:
            timer.cancel()
            release()
