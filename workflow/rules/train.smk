# beeFormer by the protocol of every baseline (beeformer.train.tuning): the train settings given as lists are
# tuned on the validation phase with models fitted on train (a list of max_steps costs one run, scored at each
# listed step), then the choice is refit once on train_full for the test phase (unless the encoder says
# refit: false, when the validation model serves both phases). With nothing to choose (no list, eval_every or
# patience), the refit trains the settings as given and needs no validation run.


rule tune_beeformer:
    input:
        unpack(tune_encoder_inputs),
    output:
        model=directory("results/models/{encoder}/validation"),
        tuning="results/training/{encoder}/validation/tuning.json",
        log_csv="results/training/{encoder}/validation/training_log.csv",
        plot=report(
            "results/training/{encoder}/validation/loss.png", caption="../report/training.rst", category="Training"
        ),
    wildcard_constraints:
        encoder=one_of(TRAINED),
    params:
        hyperparameters=train_params,
        sources=tune_encoder_sources,
        validation=encoder_validation,
        log_dir="results/training/{encoder}/validation",
        launcher=train_launcher,
        omp_threads=train_omp_threads,
    log:
        "results/logs/train/{encoder}-validation.log",
    benchmark:
        "results/benchmarks/train/{encoder}-validation.tsv"
    threads: THREADS
    resources:
        gpu=encoder_gpus,
        mem_mb=16000,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={params.omp_threads} {params.launcher} train --params {params.hyperparameters}"
        " {params.sources} {params.validation} --model-dir {output.model} --log-dir {params.log_dir} --tuning {output.tuning}"
        " 2>&1 | tee {log}"


rule refit_beeformer:
    input:
        unpack(refit_encoder_inputs),
    output:
        model=directory("results/models/{encoder}/test"),
        fit="results/training/{encoder}/test/fit.json",
        log_csv="results/training/{encoder}/test/training_log.csv",
        plot=report(
            "results/training/{encoder}/test/loss.png", caption="../report/training.rst", category="Training"
        ),
    wildcard_constraints:
        encoder=one_of(REFIT),
    params:
        settings=refit_settings,
        sources=refit_encoder_sources,
        log_dir="results/training/{encoder}/test",
        launcher=train_launcher,
        omp_threads=train_omp_threads,
    log:
        "results/logs/train/{encoder}-test.log",
    benchmark:
        "results/benchmarks/train/{encoder}-test.tsv"
    threads: THREADS
    resources:
        gpu=encoder_gpus,
        mem_mb=16000,
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "OMP_NUM_THREADS={params.omp_threads} {params.launcher} train-refit {params.settings} {params.sources}"
        " --model-dir {output.model} --log-dir {params.log_dir} --fit-report {output.fit} 2>&1 | tee {log}"
