"""The pure core: standard library only, no asyncio, no I/O.

Clock, sleep and randomness are parameters; every decision here is a function of its
inputs so that the engine (the imperative shell) can be tested by driving it with events.
"""
