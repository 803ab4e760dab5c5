"""Progress for long work: a tqdm bar on a terminal, a few plain lines everywhere else.

tqdm redraws its bar with a carriage return several times a second. In a terminal that is
what a person wants; in a log file, under CI or ``nohup`` it is one endless line of redraws.
Where the stream is not a terminal, `progress_bar` returns a `LineProgress` instead: the
same small interface (``update``, ``set_postfix``, ``close``, ``n``, ``total``), writing one
complete line at most every ``LINE_EVERY`` seconds and one when it closes.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

# Seconds between two lines of a LineProgress (the first comes after this long too).
LINE_EVERY = 10.0


def progress_bar(*, total, unit: str, desc: str | None = None, initial=0, disable: bool = False,
                 bar_format: str | None = None, file=None):
    """A tqdm bar when `file` (default stderr) is a terminal, else a `LineProgress`."""
    file = file if file is not None else sys.stderr
    if disable or _is_terminal(file):
        return tqdm(total=total, initial=initial, unit=unit, desc=desc, disable=disable, file=file,
                    dynamic_ncols=True, bar_format=bar_format)
    return LineProgress(total=total, initial=initial, unit=unit, desc=desc, file=file)


def progress_iter(iterable, *, desc: str, disable: bool = False):
    """`iterable`, with progress shown as `progress_bar` does (``len(iterable)`` is the total)."""
    items = list(iterable)
    bar = progress_bar(total=len(items), unit="it", desc=desc, disable=disable)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


class LineProgress:
    """Progress written as whole lines, e.g. ``train: 1200/7800 step (15%), 21s, 1:55 left,
    loss=95.21``, at most one every ``LINE_EVERY`` seconds and a last one at `close`."""

    def __init__(self, *, total, unit: str, desc: str | None = None, initial=0, file=None):
        self.total, self.n, self.unit = total, initial, unit
        self.desc = desc or "progress"
        self._file = file if file is not None else sys.stderr
        self._postfix: dict = {}
        self._start = self._last = time.monotonic()
        self._initial = initial
        self._closed = False

    def update(self, n=1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= LINE_EVERY:
            self._last = now
            self._write(now)

    def set_postfix(self, postfix: dict, refresh: bool = False) -> None:
        self._postfix = dict(postfix)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._write(time.monotonic())

    def _write(self, now: float) -> None:
        spent = now - self._start
        done = self.n - self._initial
        line = f"{self.desc}: {_count(self.n)}/{_count(self.total)} {self.unit}"
        if self.total:
            line += f" ({100 * min(self.n / self.total, 1):.0f}%)"
        line += f", {_clock(spent)}"
        if self.total and done > 0 and self.n < self.total:
            line += f", {_clock(spent / done * (self.total - self.n))} left"
        if self._postfix:
            line += ", " + ", ".join(f"{k}={v}" for k, v in self._postfix.items())
        print(line, file=self._file, flush=True)


def _is_terminal(file) -> bool:
    isatty = getattr(file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _count(value) -> str:
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
