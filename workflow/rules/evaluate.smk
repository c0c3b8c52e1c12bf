# Evaluation: each model (a pretrained encoder, or a trained one's validation or test model) embeds each dataset's
# item texts once; content-based scoring of every split's phase reads the embeddings of that phase's model (so do
# Heater's rules); every method's predictions get the same metrics.


rule embed_items:
    input:
        model="results/models/{model}",
        item_texts="results/data/{dataset}/items.parquet",
    output:
        "results/embeddings/{dataset}/{model}.parquet",
    wildcard_constraints:
        model=one_of(MODELS),
    params:
        options=embed_options,
    log:
        "results/logs/evaluate/embed-{dataset}-{model}.log",
    benchmark:
        "results/benchmarks/evaluate/embed-{dataset}-{model}.tsv"
    threads: THREADS
    resources:
        gpu=evaluation_gpus,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer embed --model {input.model} --items {input.item_texts}"
        " --embeddings {output} {params.options} 2>&1 | tee {log}"


rule recommend_by_text:
    input:
        embeddings=split_embeddings,
        source="results/splits/{split}/{phase}_source.parquet",
        candidates="results/splits/{split}/{phase}_candidates.parquet",
    output:
        "results/eval/{split}/{phase}/{method}/predictions.parquet",
    wildcard_constraints:
        method=one_of(ENCODERS),
    params:
        k=EVALUATION["k"],
    log:
        "results/logs/evaluate/{split}-{phase}-{method}-predictions.log",
    benchmark:
        "results/benchmarks/evaluate/{split}-{phase}-{method}.tsv"
    threads: THREADS
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer recommend --embeddings {input.embeddings}"
        " --source {input.source} --candidates {input.candidates} --predictions {output} --k {params.k}"
        " 2>&1 | tee {log}"


rule evaluate:
    input:
        predictions="results/eval/{split}/{phase}/{method}/predictions.parquet",
        targets="results/splits/{split}/{phase}_target.parquet",
    output:
        metrics="results/eval/{split}/{phase}/{method}/metrics.json",
        per_user="results/eval/{split}/{phase}/{method}/per_user.parquet",
    params:
        options=evaluate_options,
    log:
        "results/logs/evaluate/{split}-{phase}-{method}-metrics.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer evaluate --predictions {input.predictions} --targets {input.targets}"
        " --metrics {output.metrics} --per-user {output.per_user} {params.options} 2>&1 | tee {log}"
