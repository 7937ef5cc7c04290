"""Log-Mel front end shared by the speech models: 80-bin features, framed so a stream chunk is framed exactly as
the whole signal is, with global CMVN statistics stored as buffers (utterance CMVN cannot stream).

Legend: B batch, S audio samples, T 10 ms frames, F mel bins.
"""

from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SAMPLE_RATE", "HOP", "WINDOW", "N_FFT", "LogMelFrontend", "pad_signal"]

SAMPLE_RATE = 16000
HOP = 160
WINDOW = 400
N_FFT = 512


class LogMelFrontend(nn.Module):
    """80-bin log-Mel features (25 ms Hann window, 10 ms hop, 512-point FFT) with global CMVN buffers.

    Hand-framed (``unfold`` + ``rfft``) rather than ``torchaudio.compliance.kaldi.fbank`` because the
    streaming step must be scriptable and frame a chunk exactly as the whole signal is framed: each
    frame ends at a hop boundary and the first ``WINDOW - HOP`` samples are zero left-padding.
    The mel matrix comes from ``torchaudio.functional.melscale_fbanks``.
    """

    tail: Final[int]
    hop: Final[int]
    window_length: Final[int]
    n_fft: Final[int]

    def __init__(self, num_mels: int = 80):
        super().__init__()
        import torchaudio

        self.tail = WINDOW - HOP
        self.hop = HOP
        self.window_length = WINDOW
        self.n_fft = N_FFT
        mel = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 20.0, SAMPLE_RATE / 2, num_mels, SAMPLE_RATE)
        self.register_buffer("window", torch.hann_window(WINDOW, periodic=False), persistent=False)
        self.register_buffer("mel", mel, persistent=False)
        self.register_buffer("mean", torch.zeros(num_mels))
        self.register_buffer("istd", torch.ones(num_mels))

    def forward(self, audio: Tensor) -> Tensor:
        """(B, tail + HOP*T) samples (tail = carried-over or zero padding) -> (B, T, F) normalised features."""
        return (self.logmel(audio) - self.mean) * self.istd

    def logmel(self, audio: Tensor) -> Tensor:
        """(B, tail + HOP*T) samples -> (B, T, F) log-Mel energies."""
        frames = audio.unfold(-1, self.window_length, self.hop) * self.window
        power = torch.fft.rfft(frames, n=self.n_fft).abs().pow(2)
        return torch.matmul(power, self.mel).clamp_min(1e-10).log()

    @torch.jit.unused
    def raw(self, audio: Tensor) -> Tensor:
        """Un-normalised log-Mel of a whole signal (B, S) -> (B, ceil(S/HOP), F); used to fit the CMVN."""
        return self.logmel(pad_signal(audio, self.tail))

    @torch.jit.unused
    def set_cmvn(self, mean: Tensor, std: Tensor) -> None:
        """Store the training-set feature statistics (global CMVN) in the buffers."""
        self.mean.copy_(mean)
        self.istd.copy_(1.0 / std.clamp_min(1e-5))


def pad_signal(audio: Tensor, tail: int) -> Tensor:
    """Zero-pad (B, S) left by ``tail`` and right up to a whole number of hops."""
    right = (-audio.shape[-1]) % HOP
    return F.pad(audio, (tail, right))
