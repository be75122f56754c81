"""`Turns` (no Docker): executions get the CPUs in arrival order, and a long one gives its turn up."""

import asyncio

from sandbox.turns import Turns


def test_turns_go_in_arrival_order_and_a_long_one_lets_the_next_in():
    async def main():
        turns = Turns(slots=1, hold=0.05)
        admitted: list[str] = []

        async def cell(name: str, seconds: float) -> None:
            async with turns.turn():
                admitted.append(name)
                await asyncio.sleep(seconds)

        long = asyncio.create_task(cell("long", 1.0))
        await asyncio.sleep(0.01)
        short = [asyncio.create_task(cell(name, 0.0)) for name in "abcd"]
        await asyncio.gather(*short)
        return admitted, long.done()

    admitted, long_done = asyncio.run(main())
    assert admitted == ["long", "a", "b", "c", "d"]
    assert not long_done  # the short cells all ran while the long one was still going


def test_a_turn_ended_early_frees_its_slot_once():
    async def main():
        turns = Turns(slots=2, hold=0.05)
        async with turns.turn():
            pass
        await asyncio.sleep(0.1)  # the hold timer was cancelled: it must not free a second slot
        inside = 0
        most = 0

        async def cell() -> None:
            nonlocal inside, most
            async with turns.turn():
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.02)
                inside -= 1

        await asyncio.gather(*(cell() for _ in range(5)))
        return most

    assert asyncio.run(main()) == 2
