"""Training: Algorithm 1 (loop.py), checkpoints (checkpoint.py)."""
