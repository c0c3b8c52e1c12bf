rule report:
    input:
        experiment_metrics,
    output:
        markdown="results/tables/{experiment}.md",
        csv="results/tables/{experiment}.csv",
        png="results/tables/{experiment}.png",
    params:
        title=report_title,
        rows=report_rows,
    log:
        "results/logs/report/{experiment}.log",
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer report --title {params.title} {params.rows} --markdown {output.markdown}"
        " --csv {output.csv} --png {output.png} 2>&1 | tee {log}"
