"""streammem: streaming perception with memory-augmented transformers.

A stream is consumed chunk by chunk; everything a model remembers lives in an explicit state
that goes into and comes out of each ``step``.
"""

__version__ = "0.1.0"
