rule prepare_dataset:
    output:
        interactions="results/data/{dataset}/interactions.parquet",
        features="results/data/{dataset}/item_features.parquet",
        report="results/data/{dataset}/data.json",
    params:
        spec=dataset_params,
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer data --name {wildcards.dataset} --params {params.spec}"
        " --interactions {output.interactions} --items {output.features} --report {output.report}"
        " 2>&1 | tee {log}"
