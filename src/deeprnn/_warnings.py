"""Warning category for everything deeprnn warns about (tests turn it into errors)."""


class DeepRNNWarning(UserWarning):
    """Base class for deeprnn's own warnings."""
