"""Using a trained model: a catalogue index, recommendations from the command line, and an HTTP service.

``beeformer index`` embeds a catalogue (the contract's ``items.parquet``, or a CSV/TSV with item_id and text)
through the evaluation's encoding path into an index folder (:mod:`.folder`): the items, their embeddings (the
contract's embeddings file), a FAISS inner-product index (:mod:`.vectors`) and ``manifest.json`` (a hash of the
model's files, its sequence limit, text prefix and precision, the item count, the index settings, each file's
SHA-256). ``beeformer query`` ranks the index for users given as interactions (the contract's predictions, scored
as the evaluation scores content-based methods) or for items; ``beeformer serve`` answers over HTTP (:mod:`.app`).
Like every stage it reads and writes only the contract's files and imports no other stage.
"""

import logging

logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which SIMD build it loaded, at every start
