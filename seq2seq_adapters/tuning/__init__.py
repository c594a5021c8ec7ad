"""`s2sa tune`: a search over adapter configurations and learning rates on Optuna, each trial an ordinary run.

May import: training and everything below it; Optuna does the sampling, pruning, storage and sharing between workers.
"""
