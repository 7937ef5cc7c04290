"""mmengine accumulators, one per task, sharing :class:`streammem.evaluation.base.StreamMetric`."""

from streammem.evaluation.metrics.anomaly import AnomalyMetric
from streammem.evaluation.metrics.localization import LocalizationMetric
from streammem.evaluation.metrics.simulst import SimulSTMetric
from streammem.evaluation.metrics.speech import SpeechMetric
from streammem.evaluation.metrics.tracking import TrackingMetric

__all__ = ["TrackingMetric", "LocalizationMetric", "SpeechMetric", "SimulSTMetric", "AnomalyMetric"]
