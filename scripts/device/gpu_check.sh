# On a GPU machine (no network), after scripts/device/pack.sh here, with .whl and .devbundle carried:
#   bash scripts/device/gpu_check.sh                   # STAGE=all: gen, oom and train (not yet timed on a GPU)
#   STAGE=gen|oom|train|largest|converged bash scripts/device/gpu_check.sh    # one part
#   STAGE=dropout bash scripts/device/gpu_check.sh     # hidden dropout 0 vs 0.1 over 5 epochs of 2000 dialogues
# Installs the carried wheels, unpacks MiniLM and DialogSum, then (issue 31):
#   gen        generation speed and peak memory, eval path against the Seq2SeqTrainer.predict-style baseline, on
#              the 500 test dialogues, 4 beams and greedy, and the eval path at other batch sizes (ABLATION=1: with
#              the steps in between, 4 beams)
#   oom        a real CUDA out-of-memory during generation: the batch is halved
#   train      training speed, peak memory and held-out loss against the AdapterHub reference, fp32 and bf16,
#              batch 16 (the shipped config's), 200 timed steps after 20
#   largest    the same at the largest batch both pipelines fit (up to LIMIT, default 1024), bf16 and fp32
#   converged  the default adapter (--config dialogsum, bf16) and full fine-tuning, EPOCHS (5) epochs with validation
#              ROUGE every half epoch and --patience 4, both at once on the GPU; each scored on the 500 test
#              dialogues with their 3 references; scripts/converged_summary.py tabulates them and draws the curves;
#              each run stops after MAX_TIME (6m) of training at the latest, to fit one 10-minute device call
# Smaller, for a trial of this script on a CPU: N (500 test dialogues), SAMPLES (12460 training dialogues), STEPS (200
# timed) and WARMUP (20), EPOCHS (5), EVAL_STEPS (half an epoch), EVAL_N (200 validation dialogues), LIMIT (1024);
# PRECISIONS="bf16" (train and largest: both by default) splits a stage over two device calls.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
B=.devbundle
python3 -c "import adapters, datasets; assert (adapters.__version__, datasets.__version__) == ('1.3.0', '5.0.1')" 2>/dev/null ||
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD/$B/site:/tmp/site:$PWD
test -f $B/minilm/model.safetensors || python3 scripts/device/unpack_minilm.py $B/minilm || exit 1
python3 -c "import lzma, pathlib, sys; [pathlib.Path(p[:-3]).write_bytes(lzma.open(p).read()) for p in sys.argv[1:]]" $B/dialogsum/*.jsonl.xz || exit 1
python3 -c "import torch, transformers, adapters; print(torch.__version__, transformers.__version__, adapters.__version__,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')" | tee $OUT/versions.txt
nvidia-smi --query-gpu=name,memory.total,clocks.sm,driver_version --format=csv | tee -a $OUT/versions.txt
git rev-parse HEAD 2>/dev/null | tee -a $OUT/versions.txt
STAGE=${STAGE:-all}
QUIET='warn|future|super\(\)\.__init__|attention_mask'
s2sa() { python3 -m seq2seq_adapters "$@" 2>&1 | grep -v -i -E "$QUIET"; }
if [ "$STAGE" = all ] || [ "$STAGE" = gen ]; then
  for BEAMS in 4 1; do
    STEPS_BETWEEN=$([ $BEAMS = 4 ] && [ -n "${ABLATION:-}" ] && echo --ablation)  # ABLATION=1: the steps in between too
    python3 scripts/bench_generate.py $B/run --data $B/dialogsum/test.jsonl --examples ${N:-500} --no-int8 $STEPS_BETWEEN \
      --num-beams $BEAMS --repeats 2 --batch-sizes ${GEN_BATCHES:-64,128,256} --json $OUT/gen_beams$BEAMS.json 2>&1 \
      | grep -v -i -E "$QUIET" | tee $OUT/gen_beams$BEAMS.txt
  done
fi
if [ "$STAGE" = all ] || [ "$STAGE" = oom ]; then
  python3 scripts/device/check_oom_fallback.py $B/run $B/dialogsum/test.jsonl ${OOM_N:-128} 2>&1 | grep -v -i -E "$QUIET" | tee $OUT/oom.txt
fi
TRAIN_BENCH=(scripts/bench_train.py --data $B/dialogsum --samples ${SAMPLES:-12460} --heldout 200 --warmup-steps ${WARMUP:-20} --steps ${STEPS:-200} --no-flops
  --adapter-config "lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn" --train adapter,head --learning-rate 5e-3)  # the default's
if [ "$STAGE" = all ] || [ "$STAGE" = train ]; then
  for P in ${PRECISIONS:-fp32 bf16}; do
    python3 "${TRAIN_BENCH[@]}" --precision $P --rounds 2 --json $OUT/train_$P.json 2>&1 | grep -v -i -E "$QUIET" | tee $OUT/train_$P.txt
  done
fi
if [ "$STAGE" = largest ]; then
  for P in ${PRECISIONS:-bf16 fp32}; do
    python3 "${TRAIN_BENCH[@]}" --precision $P --rounds 1 --largest-batch --batch-limit ${LIMIT:-1024} --json $OUT/largest_$P.json 2>&1 \
      | grep -v -i -E "$QUIET" | tee $OUT/largest_$P.txt
  done
fi
if [ "$STAGE" = converged ]; then
  EPOCH_STEPS=$(( ($(head -n ${SAMPLES:-12460} $B/dialogsum/train.jsonl | wc -l) + 15) / 16 ))
  for POLICY in adapter full; do
    POLICY_FLAGS=(--train adapter,head)
    [ $POLICY = full ] && POLICY_FLAGS=(--train all --leave-out "" --learning-rate 1e-4)  # the policy's rate, not the config's
    rm -rf /tmp/converged-$POLICY  # this script's own scratch folder
    s2sa train --config dialogsum --data $B/dialogsum --max-train-samples ${SAMPLES:-12460} "${POLICY_FLAGS[@]}" --bf16 --epochs ${EPOCHS:-5} \
      --eval-steps ${EVAL_STEPS:-$((EPOCH_STEPS / 2))} \
      --patience 4 --eval-rouge-samples ${EVAL_N:-200} --max-eval-samples ${N:-500} --max-time ${MAX_TIME:-6m} --output-dir /tmp/converged-$POLICY \
      > $OUT/converged_$POLICY.log &
  done
  wait
  for POLICY in adapter full; do
    s2sa eval /tmp/converged-$POLICY --data $B/dialogsum --split test --max-samples ${N:-500} --output-dir /tmp/converged-$POLICY/eval-test | tail -8
    mkdir -p $OUT/converged-$POLICY
    cp -r /tmp/converged-$POLICY/{run.json,run_config.json,metrics.jsonl,curves.png,eval-test} $OUT/converged-$POLICY/
  done
  python3 scripts/converged_summary.py $OUT/converged-adapter $OUT/converged-full --epoch-steps $EPOCH_STEPS \
    --markdown $OUT/converged.md --plot $OUT/converged_curves.png
fi
if [ "$STAGE" = dropout ]; then  # not part of "all": the multi-epoch check of docs/studies/hidden-dropout.md
  for D in 0.1 0; do
    s2sa train --config dialogsum --data $B/dialogsum --max-train-samples ${TRAIN_ROWS:-2000} --epochs ${EPOCHS:-5} --hidden-dropout $D \
      --max-eval-samples 20 --output-dir /tmp/hd$D | tail -4 | tee -a $OUT/dropout.txt
    s2sa eval /tmp/hd$D --data $B/dialogsum --max-samples 200 --output-dir $OUT/eval-hd$D | tail -3
  done
  s2sa eval --compare $OUT/eval-hd0.1 $OUT/eval-hd0 | tee -a $OUT/dropout.txt
fi
