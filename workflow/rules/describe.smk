rule describe_items:
    input:
        "results/data/{dataset}/item_features.parquet",
    output:
        "results/data/{dataset}/items.parquet",
    params:
        spec=describe_params,
    log:
        "results/logs/describe/{dataset}.log",
    benchmark:
        "results/benchmarks/describe/{dataset}.tsv"
    threads: 1
    resources:
        gpu=describe_gpus,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer describe --params {params.spec} --features {input} --items {output} 2>&1 | tee {log}"
