# Report: every experiment's table and the paper's tables (config `tables:`), with paired significance against
# the best baseline and the published values; Table 1 rendered; the overview page. `snakemake --report
# results/report.html` gathers them. The rules take seconds, so on a cluster they run on the submitting host (local
# rules) instead of waiting in the queue.


rule report_table:
    input:
        report_inputs,
    output:
        markdown="results/tables/{table}.md",
        latex="results/tables/{table}.tex",
        csv="results/tables/{table}.csv",
        html=report("results/tables/{table}.html", caption="../report/table.rst", category="Tables"),
        png=report("results/tables/{table}.png", caption="../report/figure.rst", category="Figures"),
    params:
        spec=report_spec,
    log:
        "results/logs/report/{table}.log",
    localrule: True
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer report --spec {params.spec} --markdown {output.markdown} --latex {output.latex}"
        " --csv {output.csv} --html {output.html} --png {output.png} 2>&1 | tee {log}"


rule render_table1:
    input:
        "results/tables/table1.csv",
    output:
        markdown="results/tables/table1.md",
        tex="results/tables/table1.tex",
    log:
        "results/logs/report/table1.log",
    localrule: True
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer render-table1 --csv {input} --markdown {output.markdown} --tex {output.tex}"
        " 2>&1 | tee {log}"


rule report_overview:
    input:
        unpack(overview_inputs),
    output:
        report("results/report/overview.html", caption="../report/overview.rst", category="Overview"),
    params:
        config=overview_config,
        datasets=overview_datasets,
    log:
        "results/logs/report/overview.log",
    localrule: True
    threads: 1
    conda:
        "../../envs/beeformer.yaml"
    shell:
        "python -m beeformer overview --config {params.config} {params.datasets} --table1 {input.table1}"
        " --html {output} 2>&1 | tee {log}"
