# Baselines: pretrained sentence-Transformers saved as model folders, and the interaction-based methods
# (collaborative filtering, Heater), tuned on the validation phase and refit once for the test phase
# (beeformer.baselines.tuning states the protocol).


rule pretrained_encoder:
    output:
        directory("results/models/{encoder}"),
    wildcard_constraints:
        encoder=one_of(PRETRAINED),
    params:
        name=pretrained_name,
        options=pretrained_options,
    log:
        "results/logs/baselines/{encoder}.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer pretrained --name {params.name} --model-dir {output} {params.options} 2>&1 | tee {log}"


rule tune_baseline:
    input:
        unpack(tune_inputs),
    output:
        predictions="results/eval/{split}/validation/{method}/predictions.parquet",
        tuning="results/eval/{split}/validation/{method}/tuning.json",
    wildcard_constraints:
        method=one_of(BASELINE_METHODS),
    params:
        settings=baseline_settings,
        options=tune_options,
    log:
        "results/logs/baselines/{split}-validation-{method}.log",
    benchmark:
        "results/benchmarks/baselines/{split}-validation-{method}.tsv"
    threads: THREADS
    resources:
        mem_mb=baseline_mem_mb,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer tune --method {wildcards.method} --params {params.settings}"
        " --train {input.train} --source {input.source} --target {input.target} --candidates {input.candidates}"
        " --predictions {output.predictions} --tuning {output.tuning} {params.options} 2>&1 | tee {log}"


rule refit_baseline:
    input:
        unpack(refit_inputs),
    output:
        predictions="results/eval/{split}/test/{method}/predictions.parquet",
        fit="results/eval/{split}/test/{method}/fit.json",
    wildcard_constraints:
        method=one_of(BASELINE_METHODS),
    params:
        options=refit_options,
    log:
        "results/logs/baselines/{split}-test-{method}.log",
    benchmark:
        "results/benchmarks/baselines/{split}-test-{method}.tsv"
    threads: THREADS
    resources:
        mem_mb=baseline_mem_mb,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m beeformer refit --method {wildcards.method} --tuning {input.tuning}"
        " --train-full {input.train_full} --source {input.source} --candidates {input.candidates}"
        " --predictions {output.predictions} --fit-report {output.fit} {params.options} 2>&1 | tee {log}"
