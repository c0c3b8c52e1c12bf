rule pretrained_encoder:
    output:
        directory("results/models/{encoder}"),
    wildcard_constraints:
        encoder=one_of(PRETRAINED),
    params:
        name=pretrained_name,
    log:
        "results/logs/baselines/{encoder}.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer pretrained --name {params.name} --model-dir {output} 2>&1 | tee {log}"


rule interaction_baseline:
    input:
        train="results/splits/{split}/train.parquet",
        source="results/splits/{split}/{phase}_source.parquet",
        candidates="results/splits/{split}/{phase}_candidates.parquet",
    output:
        "results/eval/{split}/{phase}/{method}/predictions.parquet",
    wildcard_constraints:
        method=one_of(methods_of_kind("cf") + methods_of_kind("heater")),
    log:
        "results/logs/baselines/{split}-{phase}-{method}.log",
    benchmark:
        "results/benchmarks/baselines/{split}-{phase}-{method}.tsv"
    threads: workflow.cores
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer baseline --method {wildcards.method} --train {input.train} --source {input.source}"
        " --candidates {input.candidates} --predictions {output} 2>&1 | tee {log}"
