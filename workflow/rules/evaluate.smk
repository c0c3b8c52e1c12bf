rule recommend_by_text:
    input:
        model="results/models/{method}",
        item_texts=split_items,
        source="results/splits/{split}/{phase}_source.parquet",
        candidates="results/splits/{split}/{phase}_candidates.parquet",
    output:
        "results/eval/{split}/{phase}/{method}/predictions.parquet",
    wildcard_constraints:
        method=one_of(ENCODERS),
    params:
        options=recommend_options,
    log:
        "results/logs/evaluate/{split}-{phase}-{method}-predictions.log",
    benchmark:
        "results/benchmarks/evaluate/{split}-{phase}-{method}.tsv"
    threads: workflow.cores
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer recommend --model {input.model} --items {input.item_texts}"
        " --source {input.source} --candidates {input.candidates} --predictions {output} {params.options}"
        " 2>&1 | tee {log}"


rule evaluate:
    input:
        predictions="results/eval/{split}/{phase}/{method}/predictions.parquet",
        targets="results/splits/{split}/{phase}_target.parquet",
    output:
        "results/eval/{split}/{phase}/{method}/metrics.json",
    params:
        options=evaluate_options,
    log:
        "results/logs/evaluate/{split}-{phase}-{method}-metrics.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer evaluate --predictions {input.predictions} --targets {input.targets}"
        " --metrics {output} {params.options} 2>&1 | tee {log}"
