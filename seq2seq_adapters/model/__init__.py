"""The BERT2BERT model: building it with one adapter, marker tokens, the speed patches of adapters 1.3.0
(`patched_*`), merging LoRA into the weights, the int8 copy, and saving/loading adapter folders.

May import: core, config, layout, data."""
