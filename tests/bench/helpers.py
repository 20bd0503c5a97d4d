"""Running the benchmark's coroutines from a test."""

import asyncio
import threading


def run_in_own_loop(coroutine_function, *args):
    """``asyncio.run(coroutine_function(*args))`` in a thread of its own.

    Playwright's sync API (the browser tests) leaves an event loop running in the main thread,
    and ``asyncio.run`` refuses to start beside it; a thread has no loop until it makes one.
    """
    outcome = {}

    def run():
        try:
            outcome["value"] = asyncio.run(coroutine_function(*args))
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="benchmark-loop", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
