"""Report stage: the paper's result tables (Tables 2-4) with paired significance and the published values.

``render_table(spec, markdown=..., latex=..., csv=..., html=..., png=...)`` reads the ``metrics.json`` and
``per_user.parquet`` files a table spec names (:mod:`.spec`), compares every row of a block (one experiment) with
the block's reference user by user (:mod:`.results`, :mod:`.stats`) and renders one table in the paper's layout
per format (:mod:`.markdown`, :mod:`.latex`, :mod:`.html`, :mod:`.figure`), returning the long table it writes as
CSV. ``claim_holds`` (:mod:`.verdict`) turns that table into a yes/no sentence about a claim of the paper.

Statistics, in short: the reference of a block is the method it names or, per metric, its best baseline (a row
not trained with beeFormer); a difference is the paired mean difference over the same users, with a paired
bootstrap standard error and percentile interval (the same resampled users for both methods) and a two-sided
paired t-test, Holm-corrected over every comparison of the table. :mod:`.stats` says why a t-test and not
Wilcoxon's signed-rank test.
"""

from beeformer.report.render import render_table
from beeformer.report.verdict import Claim, claim_holds

__all__ = ["Claim", "claim_holds", "render_table"]
