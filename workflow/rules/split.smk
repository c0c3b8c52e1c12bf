rule split_dataset:
    input:
        interactions=split_interactions,
        item_texts=split_items,
    output:
        expand("results/splits/{{split}}/{part}.parquet", part=SPLIT_PARTS),
        summary="results/splits/{split}/split.json",
    params:
        spec=split_params,
        out_dir="results/splits/{split}",
    log:
        "results/logs/split/{split}.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer split --params {params.spec} --interactions {input.interactions}"
        " --items {input.item_texts} --out-dir {params.out_dir} 2>&1 | tee {log}"
