"""Frame scanning, fast parsing and a decoded frame cache for trajectory files.

The one (ext)xyz frame scanner of zifviz lives here (:func:`iter_xyz_blocks`): reading,
indexing, streaming and resuming a partly written file all use it, with one rule for blank
lines (blank lines *between* frames are skipped; inside a frame every line counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 22


@dataclass
class XYZBlock:
    """One (ext)xyz frame as found by the scanner.

    ``start``/``end`` are byte offsets in the (decompressed) stream; ``data`` holds the bytes
    from the atom-count line to the end of the last atom line. ``problem`` is None for a
    complete frame, else why the frame cannot be read (the scanner then stops when the next
    frame cannot be located). ``terminated`` tells whether the last line ends with a newline
    (a frame being written may lack it).
    """

    start: int
    end: int
    n_atoms: int
    data: bytes
    problem: str | None = None
    terminated: bool = True


def iter_xyz_blocks(fh, chunk_size: int = _CHUNK) -> Iterator[XYZBlock]:
    """Yield the frames of a binary (ext)xyz stream ``fh`` one by one (see :class:`XYZBlock`).

    The atom-count line tells where the next frame starts, so a frame with bad atom lines is
    reported (by the parser) without losing the frames after it. A count line that is not a
    number, or a file that ends inside a frame, gives a last block with ``problem`` set.
    """
    buf = b""
    base = 0  # stream offset of buf[0]
    pos = 0  # position in buf
    eof = False

    def more() -> bool:
        nonlocal buf, base, pos, eof
        if eof:
            return False
        data = fh.read(chunk_size)
        if not data:
            eof = True
            return False
        if pos > 0:
            base += pos
            buf = buf[pos:]
            pos = 0
        buf += data
        return True

    while True:
        # the count line, skipping blank lines between frames
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if more():
                    continue
                nl = len(buf)  # last line without a newline
                if pos >= nl:
                    return
            line = buf[pos:nl]
            if line.strip():
                break
            pos = nl + 1
            if pos >= len(buf) and not more():
                return
        start = base + pos
        first = line.split()
        try:
            n = int(first[0])
            if n < 0:
                raise ValueError
        except ValueError:
            yield XYZBlock(start, base + nl, 0, bytes(line),
                           f"expected an atom count, found {line.strip()[:40].decode(errors='replace')!r}")
            return
        # the comment line and n atom lines: n + 1 newlines after the count line
        need = n + 1
        off = nl + 1 - pos  # more() may move the buffer; pos + off stays right
        while True:
            found, after = _skip_lines(buf, pos + off, need)
            if found == need or not more():
                break
        if found == need:
            end, terminated = after, True
        else:  # the file ends inside this frame
            end, terminated = len(buf), False
            if found == need - 1 and buf[after:].strip():  # only the last newline is missing
                found = need
            if found < need:
                yield XYZBlock(start, base + end, n, bytes(buf[pos:end]),
                               f"truncated: ends after {max(found - 1, 0)} of {n} atoms", False)
                return
        block = XYZBlock(start, base + end, n, bytes(buf[pos:end]), None, terminated)
        pos = end
        yield block
        if not terminated:
            return


def _skip_lines(buf: bytes, at: int, k: int) -> tuple[int, int]:
    """Skip up to ``k`` lines of ``buf`` from ``at``: (lines skipped, offset after them)."""
    if at >= len(buf) or k == 0:
        return 0, min(at, len(buf))
    if k <= 32:
        found = 0
        while found < k:
            nl = buf.find(b"\n", at)
            if nl < 0:
                break
            at = nl + 1
            found += 1
        return found, at
    window = len(buf) - at
    guess = min(window, k * 160)
    while True:
        idx = np.flatnonzero(np.frombuffer(buf, np.uint8, count=guess, offset=at) == 10)
        if len(idx) >= k:
            return k, at + int(idx[k - 1]) + 1
        if guess == window:
            return len(idx), (at + int(idx[-1]) + 1) if len(idx) else at
        guess = min(window, guess * 2)


def scan_complete_xyz(fh) -> tuple[int, int]:
    """Number of complete, newline-terminated frames of an (ext)xyz stream and the byte offset
    where they end (used to resume a partly written file)."""
    n = good = 0
    for block in iter_xyz_blocks(fh):
        if block.problem or not block.terminated:
            break
        n += 1
        good = block.end
    return n, good
