"""Training (Sect. 4, 6.6): configuration, the multi-loss objective and the resumable training loop."""

from ffld.train.config import ConfigError, TrainConfig, load_config
from ffld.train.engine import Trainer, TrainingDiverged, train
from ffld.train.objective import MultiLoss

__all__ = ["ConfigError", "MultiLoss", "TrainConfig", "Trainer", "TrainingDiverged", "load_config", "train"]
