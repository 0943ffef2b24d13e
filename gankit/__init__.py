"""gankit: generative adversarial networks you can learn from, test and trust."""

__version__ = "0.1.0"
