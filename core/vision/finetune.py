"""Fine-tuning a pre-trained backbone: new head first, then the top layers, gently.

Keras' transfer-learning guide: train the new classifier on a frozen backbone, then
unfreeze the backbone's top layers and go on with a much lower learning rate, keeping
BatchNormalization in inference mode (its statistics frozen, the backbone called with
`training=False`) so the few new pictures do not wreck the pre-trained features.
"""

from __future__ import annotations

import keras

FROZEN_SHARE = 1 / 3  # of the epochs, the head trains alone on the frozen backbone
TOP_SHARE = 0.25  # of the backbone's layers, counted from the top, are fine-tuned
RATE_FACTOR = 0.1  # the fine-tuning learning rate, relative to the head's


def backbone_of(model: keras.Model) -> keras.Model:
    """The pre-trained network nested inside the end-to-end model.

    Raises:
        ValueError: if the model holds no nested network.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError(f"The model `{model.name}` holds no pre-trained backbone.")


def unfreeze_top(backbone: keras.Model, share: float = TOP_SHARE) -> list[str]:
    """Makes the top `share` of the backbone's layers trainable, except BatchNorm.

    Returns:
        The names of the layers that became trainable.
    """
    backbone.trainable = True
    first = len(backbone.layers) - max(1, round(share * len(backbone.layers)))
    opened = []
    for index, layer in enumerate(backbone.layers):
        frozen = index < first or isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not frozen
        if not frozen and layer.weights:
            opened.append(layer.name)
    return opened


class FineTune(keras.callbacks.Callback):
    """At epoch `start`, unfreezes the backbone's top layers with a lower learning rate.

    A new optimizer is built for the larger set of trainable weights (a Keras optimizer
    only updates the variables it was built with) and the training step is traced again.

    Args:
        start: the epoch (0-based) from which the top layers train.
        learning_rate: the learning rate from then on.
    """

    def __init__(self, start: int, learning_rate: float) -> None:
        super().__init__()
        self.start = start
        self.learning_rate = learning_rate
        self.opened: list[str] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch != self.start:
            return
        self.opened = unfreeze_top(backbone_of(self.model))
        optimizer = keras.optimizers.Adam(self.learning_rate)
        if isinstance(self.model.optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(self.model.trainable_variables)
        self.model.optimizer = optimizer
        self.model.make_train_function(force=True)


def fine_tune_callback(epochs: int, learning_rate: float) -> FineTune:
    """The callback for a run of `epochs`: frozen for the first third, then fine-tuned."""
    start = max(1, round(FROZEN_SHARE * epochs))
    return FineTune(start, learning_rate * RATE_FACTOR)
