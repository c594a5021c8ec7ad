"""What s2sa writes on disk, read and checked without torch: a run folder, its checkpoint folders, an adapter
folder (an artifact) and an export's plan. Each `*_folder` module is the torch-free half of a folder whose
tensors another layer reads (`model.artifact_io`, `training.checkpointing`, `export.writer`).

May import: core, config."""
