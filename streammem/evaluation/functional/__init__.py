"""Pure metric functions, one module per task: tracking (TrackEval), localization (mAP@tIoU), speech (jiwer)."""
