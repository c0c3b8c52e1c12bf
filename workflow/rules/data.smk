# Data stage: downloads into resources/ (verified, resumable; Kaggle sets via the kaggle package), preparing each
# dataset (join texts, the paper's filters) and Table 1. A file placed in resources/ by hand is used as it is
# (after its checksum check in the data stage); download rules are local rules, since compute nodes often have
# no network.


rule download:
    output:
        "resources/{resource}",
    wildcard_constraints:
        resource=one_of(download_names()),
    log:
        "results/logs/download/{resource}.log",
    benchmark:
        "results/benchmarks/download/{resource}.tsv"
    localrule: True
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer download {wildcards.resource} --resources-dir resources 2>&1 | tee {log}"


rule prepare_dataset:
    input:
        dataset_inputs,
    output:
        interactions="results/data/{dataset}/interactions.parquet",
        features="results/data/{dataset}/item_features.parquet",
        report="results/data/{dataset}/data.json",
    params:
        spec=dataset_params,
        options=dataset_options,
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer data --name {wildcards.dataset} --params {params.spec} {params.options}"
        " --interactions {output.interactions} --items {output.features} --report {output.report}"
        " 2>&1 | tee {log}"


rule table1:
    input:
        table1_inputs,
    output:
        "results/tables/table1.csv",
    params:
        datasets=table1_args,
    log:
        "results/logs/data/table1.log",
    benchmark:
        "results/benchmarks/data/table1.tsv"
    threads: 1
    resources:
        mem_mb=16000,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer table1 {params.datasets} --csv {output} 2>&1 | tee {log}"
