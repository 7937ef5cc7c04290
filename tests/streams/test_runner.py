import numpy as np
import pytest

from streammem.streams.chunkers import FixedChunker
from streammem.streams.runner import StreamRunner
from streammem.streams.sinks import StopStream


class RecordingSink:
    def __init__(self, stop_after: int | None = None):
        self.events: list = []
        self.stop_after = stop_after

    def open(self):
        self.events.append("open")

    def write(self, timestamp, payload, output):
        self.events.append(("write", timestamp, output))
        if self.stop_after is not None and len(self.events) - 1 == self.stop_after:
            raise StopStream

    def close(self, success):
        self.events.append(("close", success))


class ListSource:
    """A finite source with the Source attributes; remembers whether its iterator was closed."""

    def __init__(self, payloads, live=False, dropped=0):
        self.payloads = payloads
        self.live = live
        self.total = None if live else len(payloads)
        self.dropped = dropped
        self.closed = False

    def __iter__(self):
        try:
            for i, payload in enumerate(self.payloads):
                yield i * 0.1, payload
        finally:
            self.closed = True


def count_step(chunk, state):
    """A model whose output is the chunk's sum and whose state counts steps."""
    return float(np.sum(chunk)), state + 1


def test_summary_counts_steps_frames_and_latency():
    sink = RecordingSink()
    summary = StreamRunner(count_step, 0, [sink], progress=False).run(ListSource([np.ones(3)] * 10))
    assert (summary.steps, summary.frames, summary.dropped, summary.state) == (10, 10, 0, 10)
    assert 0 < summary.mean_latency < 1 and 0 < summary.p95_latency < 1
    assert not summary.stopped_early
    assert sink.events[0] == "open" and sink.events[-1] == ("close", True)
    assert [e[1] for e in sink.events[1:-1]] == pytest.approx([i * 0.1 for i in range(10)])
    assert set(summary.as_dict()) >= {"steps", "frames", "dropped", "mean_latency", "p95_latency", "fps"}


def test_max_frames_stops_the_run_and_closes_the_source():
    source = ListSource([np.zeros(1)] * 10)
    summary = StreamRunner(count_step, 0, progress=False).run(source, max_frames=4)
    assert (summary.frames, summary.steps, summary.stopped_early) == (4, 4, False)
    assert source.closed  # a live source's capture thread would stop here


def test_chunker_regroups_payloads_and_is_flushed_at_the_end():
    sink = RecordingSink()
    source = ListSource([np.full(1, float(i)) for i in range(10)])
    summary = StreamRunner(count_step, 0, [sink], chunker=FixedChunker(4), progress=False).run(source)
    assert (summary.steps, summary.frames) == (3, 10)
    writes = sink.events[1:-1]
    assert [output for _, _, output in writes] == [0 + 1 + 2 + 3, 4 + 5 + 6 + 7, 8 + 9]
    assert [t for _, t, _ in writes] == pytest.approx([0.3, 0.7, 0.9])  # when each chunk became complete


def test_failing_step_closes_sinks_unsuccessfully_and_the_source():
    def step(chunk, state):
        if state == 3:
            raise RuntimeError("model exploded")
        return 0.0, state + 1

    sink, source = RecordingSink(), ListSource([np.zeros(1)] * 10)
    with pytest.raises(RuntimeError, match="model exploded"):
        StreamRunner(step, 0, [sink], progress=False).run(source)
    assert sink.events[-1] == ("close", False)
    assert source.closed


def test_a_sink_can_stop_the_run_successfully():
    sink = RecordingSink(stop_after=2)
    summary = StreamRunner(count_step, 0, [sink], progress=False).run(ListSource([np.zeros(1)] * 10))
    assert summary.stopped_early and summary.frames == 2
    assert sink.events[-1] == ("close", True)


def test_sink_that_fails_to_open_closes_the_ones_already_open():
    class Unopenable(RecordingSink):
        def open(self):
            raise OSError("disk full")

    first = RecordingSink()
    with pytest.raises(OSError):
        StreamRunner(count_step, 0, [first, Unopenable()], progress=False).run(ListSource([np.zeros(1)]))
    assert first.events == ["open", ("close", False)]


def test_progress_bar_for_files_and_status_line_for_live_sources(capsys):
    StreamRunner(count_step, 0, progress=True).run(ListSource([np.zeros(1)] * 10))
    assert "10/10" in capsys.readouterr().err
    summary = StreamRunner(count_step, 0, progress=True).run(
        ListSource([np.zeros(1)] * 5, live=True, dropped=3)
    )
    status = capsys.readouterr().err
    assert summary.dropped == 3
    assert "dropped 3" in status and "ms/step" in status and "/10" not in status
