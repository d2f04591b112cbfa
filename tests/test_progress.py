"""Progress reporting: plain lines off a terminal, nothing when disabled."""

import io

from biofab.core.progress import progress


def test_lines_off_a_terminal_one_per_step() -> None:
    buf = io.StringIO()
    with progress("round", total=3, stream=buf) as bar:
        for r in range(3):
            bar.advance(note=f"best {r}")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("round 1/3 (")
    assert lines[-1].endswith("best 2")


def test_throttled_lines_still_write_the_last_step() -> None:
    buf = io.StringIO()
    with progress("rows", total=1000, stream=buf, every=3600) as bar:
        for _ in range(10):
            bar.advance(100)
    lines = buf.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines] == ["100/1000", "1000/1000"]


def test_disabled_writes_nothing() -> None:
    buf = io.StringIO()
    with progress("x", total=2, enabled=False, stream=buf) as bar:
        bar.advance()
    assert buf.getvalue() == ""
