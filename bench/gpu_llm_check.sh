#!/usr/bin/env bash
# The emotion-LLM speed check on a CUDA machine, as one prepared run (about 12 minutes on one H200).
#
#   bash bench/gpu_llm_check.sh wheels      # on a machine with PyPI: ClueLab's Python dependencies, as the
#                                           # pinned wheels, into .whl/ (a GPU machine with no network takes them)
#   bash bench/gpu_llm_check.sh [OUT_DIR]   # on the GPU machine (its own torch + CUDA): both LM shapes at batch 128
set -euo pipefail
cd "$(dirname "$0")/.."
# What bench/llm_predict.py imports beyond torch, numpy, opencv and pytest.
PACKAGES="transformers tokenizers huggingface_hub httpx2 httpcore2 truststore pydantic pydantic_core pydantic-settings
annotated-types typing-inspection python-dotenv sqlmodel SQLAlchemy alembic Mako argon2-cffi argon2-cffi-bindings redis
soundfile soxr peft accelerate safetensors typing_extensions regex click cffi pycparser"

if [ "${1:-}" = wheels ]; then
  mkdir -p .whl
  for name in $PACKAGES; do
    pin=$(grep -i -h -E "^${name}==" requirements.txt requirements-models.txt | head -1)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform any -d .whl "$pin"
  done
  du -sh .whl
  exit 0
fi

out=${1:-bench-gpu-out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/cluelab-site .whl/*.whl
export PYTHONPATH=/tmp/cluelab-site:. PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$out/gpu.txt"
python3 bench/llm_predict.py --gpu --batch 128 --clips 256 --repeat 1 \
  --rows generate-dynamic,generate-compile,cluelab-dynamic,cluelab-compile 2>&1 | tee "$out/llama_batch128.txt"
python3 bench/llm_predict.py --gpu --gqa --batch 128 --clips 256 --repeat 1 \
  --rows generate-dynamic,generate-compile,cluelab-dynamic,cluelab-compile 2>&1 | tee "$out/gqa_batch128.txt"
