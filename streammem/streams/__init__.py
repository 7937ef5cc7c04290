"""Stream runtime: sources, chunkers, the stream runner and sinks.

A source yields ``(timestamp_seconds, payload)``; a chunker regroups payloads into model chunks; the
runner calls ``output, state = step(chunk, state)`` and hands each output to the sinks.
"""

from streammem.streams.audio import AudioFileSource, MicrophoneSource, StreamingResampler
from streammem.streams.chunkers import ContextChunker, FixedChunker, ShiftableContextChunker, Window
from streammem.streams.live import DropOldestQueue
from streammem.streams.runner import RunSummary, StreamRunner
from streammem.streams.sinks import (
    AnnotatedVideoSink,
    JsonLinesSink,
    MOTChallengeSink,
    Sink,
    StopStream,
    WindowSink,
    draw_boxes,
    has_display,
)
from streammem.streams.sources import Source, open_source
from streammem.streams.video import OpenCVSource, VideoFileSource

__all__ = [
    "AnnotatedVideoSink",
    "AudioFileSource",
    "ContextChunker",
    "DropOldestQueue",
    "FixedChunker",
    "JsonLinesSink",
    "MOTChallengeSink",
    "MicrophoneSource",
    "OpenCVSource",
    "RunSummary",
    "ShiftableContextChunker",
    "Sink",
    "Source",
    "StopStream",
    "StreamRunner",
    "StreamingResampler",
    "VideoFileSource",
    "Window",
    "WindowSink",
    "draw_boxes",
    "has_display",
    "open_source",
]
