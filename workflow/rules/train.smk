rule train_beeformer:
    input:
        unpack(train_inputs),
    output:
        model=directory("results/models/{encoder}"),
        log_csv="results/training/{encoder}/training_log.csv",
        plot=report("results/training/{encoder}/loss.png", caption="../report/training.rst", category="Training"),
    wildcard_constraints:
        encoder=one_of(TRAINED),
    params:
        hyperparameters=train_params,
        sources=train_sources,
        log_dir="results/training/{encoder}",
        launcher=train_launcher,
    log:
        "results/logs/train/{encoder}.log",
    benchmark:
        "results/benchmarks/train/{encoder}.tsv"
    threads: workflow.cores
    resources:
        gpu=encoder_gpus,
        mem_mb=16000,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher} train --params {params.hyperparameters} {params.sources}"
        " --model-dir {output.model} --log-dir {params.log_dir} 2>&1 | tee {log}"
