# Catalogue indexes (config `indexes`): a dataset's items embedded by an encoder's final model, encoded as the embed
# rule encodes them, in a FAISS index folder that `beeformer query` and `beeformer serve` read (docs/usage.md).
# Built on request (`snakemake --cores 2 results/index/<name>`), not by `all`: it needs the `serve` extra.


rule index_items:
    input:
        model=index_model,
        item_texts=index_items,
    output:
        directory("results/index/{index}"),
    wildcard_constraints:
        index=one_of(INDEXES),
    params:
        options=index_options,
    log:
        "results/logs/serve/index-{index}.log",
    benchmark:
        "results/benchmarks/serve/index-{index}.tsv"
    threads: THREADS
    resources:
        gpu=evaluation_gpus,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer index --model {input.model} --items {input.item_texts}"
        " --index {output} {params.options} 2>&1 | tee {log}"
