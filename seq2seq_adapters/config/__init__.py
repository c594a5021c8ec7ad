"""Settings: the run config's sections and the definition of every setting (default, help, flags, bounds),
their validation, YAML loading with dotted overrides, old saved runs' migration, and the `--train` policy.
Torch-free: every command checks its input with it before loading a model.

May import: core."""
