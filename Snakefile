# beeFormer: train sentence-Transformers on user-item interactions (Vančura, Kordík, Straka, RecSys 2024).
# The default config runs the embedded demo offline on CPU: `snakemake --cores 2 all`.
from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded demo is the default; a --configfile given on the command line replaces it (not merges into it).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, schema="workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/describe.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/serve.smk"


rule all:
    input:
        all_tables(),
        data_targets(),
    default_target: True


onstart:
    data_preflight()


onsuccess:
    print_tables()
