"""A progress bar for management commands: redraws in place on a terminal, prints a line per
quarter of the way otherwise (CI logs, pipes), so long commands never look stuck."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.total = max(total, 0)
        self.stream = stream or sys.stdout
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        self._last_quarter = -1
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def advance(self, step: int = 1) -> None:
        self.done = min(self.total, self.done + step) if self.total else self.done + step
        self._draw()

    def _draw(self, final: bool = False) -> None:
        fraction = self.done / self.total if self.total else 1.0
        if self._tty:
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            end = "\n" if final else ""
            self.stream.write(f"\r{self.label:<28} [{bar}] {self.done:>10,}/{self.total:,}{end}")
            self.stream.flush()
            return
        quarter = int(fraction * 4)
        if (quarter != self._last_quarter and self.done) or final:
            self._last_quarter = quarter
            if final or quarter < 4:
                self.stream.write(f"{self.label}: {self.done:,}/{self.total:,} ({fraction:.0%})\n")

    def finish(self) -> float:
        self.done = self.total or self.done
        self._draw(final=True)
        return time.monotonic() - self.started
