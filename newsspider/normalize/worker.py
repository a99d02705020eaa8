"""``python -m newsspider.normalize.worker``: one body worker of :class:`~newsspider.normalize.pool.BodyPool`.

Jobs arrive on stdin and answers leave on stdout (see :func:`~newsspider.normalize.body.worker_main`);
errors go to stderr, which is the crawl's.  A module of its own (not ``-m
newsspider.normalize.body``) so what crosses the wire keeps its
``newsspider.normalize.body`` names, not ``__main__.…``.  It imports no Twisted.
"""

from __future__ import annotations

import os
import signal
import sys

from newsspider.normalize.body import worker_main

if __name__ == "__main__":
    # Ctrl-C reaches the whole process group; the crawl process decides how to
    # stop (Scrapy finishes the items in flight), so the workers ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # argv[1]: niceness (NEWSSPIDER_HELPER_NICE): the crawl process is the
    # bottleneck; a worker busy a third of the time can wait its turn.
    if len(sys.argv) > 1:
        os.nice(int(sys.argv[1]))
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the answers
    code = worker_main(sys.stdin.buffer, answers)
    # Every answer is flushed; skip the interpreter's teardown (~0.1 s with
    # lxml and numpy loaded), which the crawl's close would wait for.
    sys.stderr.flush()
    os._exit(code)
