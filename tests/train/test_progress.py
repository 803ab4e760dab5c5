"""Progress off a terminal: whole lines, at most one every LINE_EVERY seconds."""

import io

import pytest

from unidgm.train import Trainer, progress
from unidgm.train.progress import LineProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_file_gets_lines_not_carriage_returns(monkeypatch):
    clock = iter([0.0, 4.0, 11.0, 15.0, 25.0, 30.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = progress_bar(total=100, unit="step", desc="train", file=out)
    assert isinstance(bar, LineProgress)
    bar.set_postfix({"loss": "95.2"})
    for _ in range(4):  # at t = 4, 11, 15, 25: lines at 11 and 25 only
        bar.update(10)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 3
    assert lines[0] == "train: 20/100 step (20%), 11s, 44s left, loss=95.2"
    assert lines[-1].startswith("train: 40/100 step (40%), 30s")


def test_a_terminal_gets_tqdm():
    bar = progress_bar(total=10, unit="step", file=Terminal())
    assert not isinstance(bar, LineProgress)
    bar.close()


def test_training_off_a_terminal_writes_few_lines(fakes, data, capsys):
    # pytest's captured stderr is no terminal, as a log file or CI is not
    Trainer(fakes.TinyVAE(), data, epochs=100, device="cpu", batch_size=16, log_every=1).fit()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("train:")]
    assert len(lines) == 1 and lines[0].startswith("train: 300/300 step (100%)")


@pytest.mark.parametrize("seconds, text", [(5, "5s"), (65, "1:05"), (3725, "1:02:05")])
def test_clock(seconds, text):
    assert progress._clock(seconds) == text
