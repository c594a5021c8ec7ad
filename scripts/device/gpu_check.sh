# On a GPU machine (no network), after scripts/device/pack.sh here, with .whl and .devbundle carried:
#   bash scripts/device/gpu_check.sh            # STAGE=gen|oom|train for one part
#   STAGE=dropout bash scripts/device/gpu_check.sh   # hidden dropout 0 vs 0.1 over 5 epochs (pack with TRAIN_ROWS=2000)
# Installs the carried wheels, rebuilds MiniLM, then: generation speed (4 beams with the ablation, greedy),
# a real CUDA out-of-memory during generation, training speed against the AdapterHub reference.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
B=.devbundle
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD/$B/site:/tmp/site:$PWD
test -f $B/minilm/model.safetensors || python3 scripts/device/unpack_minilm.py $B/minilm || exit 1
python3 -c "import torch, transformers, adapters; print(torch.__version__, transformers.__version__, adapters.__version__, torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv
STAGE=${STAGE:-all}
if [ "$STAGE" = all ] || [ "$STAGE" = gen ]; then
  python3 scripts/bench_generate.py $B/run --data $B/dialogsum/test.jsonl --examples ${N:-200} --no-int8 --ablation --repeats 2 --json $OUT/gen_beam4.json 2>&1 | grep -v -i warn | tee $OUT/gen_beam4.txt
  python3 scripts/bench_generate.py $B/run --data $B/dialogsum/test.jsonl --examples ${N:-200} --no-int8 --num-beams 1 --repeats 2 --json $OUT/gen_greedy.json 2>&1 | grep -v -i warn | tee $OUT/gen_greedy.txt
fi
if [ "$STAGE" = all ] || [ "$STAGE" = oom ]; then
  python3 scripts/device/check_oom_fallback.py $B/run $B/dialogsum/test.jsonl ${OOM_N:-128} 2>&1 | grep -v -i "future\|warn(" | tee $OUT/oom.txt
fi
if [ "$STAGE" = all ] || [ "$STAGE" = train ]; then
  python3 scripts/bench_train.py --data $B/dialogsum --samples 640 --steps 120 --rounds 2 --no-flops --heldout 200 2>&1 | grep -v -i warn | tee $OUT/train.txt
fi
if [ "$STAGE" = dropout ]; then  # not part of "all": the multi-epoch check of docs/studies/hidden-dropout.md
  for D in 0.1 0; do
    python3 -m seq2seq_adapters train --config dialogsum --data $B/dialogsum --epochs ${EPOCHS:-5} --hidden-dropout $D \
      --max-eval-samples 20 --output-dir /tmp/hd$D 2>&1 | grep -v -i warn | tail -4 | tee -a $OUT/dropout.txt
    python3 -m seq2seq_adapters eval /tmp/hd$D --data $B/dialogsum --max-samples 200 --output-dir $OUT/eval-hd$D 2>&1 | grep -v -i warn | tail -3
  done
  python3 -m seq2seq_adapters eval --compare $OUT/eval-hd0.1 $OUT/eval-hd0 2>&1 | tee -a $OUT/dropout.txt
fi
