"""MovieLens-20M joined to IMDB plots ("IMDB movies analysis", Kaggle samruddhim/imdb-movies-analysis).

Keys, in order: ``links.csv`` imdbId = the plot file's imdbID, both normalised to ``tt`` + 7 digits (either file may
write an id with or without the ``tt`` prefix, zero-padded or not, even as a float: '114709', '0114709', 'tt0114709'
and '114709.0' are the same id); then the title (articles and punctuation normalised, 'Matrix, The' = 'The Matrix')
and the year. The gathered text holds the
title, year, genres, director, cast and the plot (``fullplot``, else ``plot``); movies without a plot have no
description.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from beeformer.data.common import Loaded, interactions_from
from beeformer.data.joins import (
    JoinReport,
    blank_to_na,
    cascade,
    imdb_key,
    int_id,
    labelled_text,
    norm_title,
    split_title_year,
    take,
    unmatched_sample,
    year_of,
)
from beeformer.data.readers import Source, read_csv, read_ratings, zip_member

RATING_TYPES = {"userId": pa.int64(), "movieId": pa.int64(), "rating": pa.float64(), "timestamp": pa.int64()}
PLOT_COLUMNS = ("imdbID", "title", "year", "plot")
PLOT_OPTIONAL = ("fullplot", "genre", "director", "cast")


def load(paths: dict[str, Path]) -> Loaded:
    """Interactions with timestamps, and the gathered texts of all movies of ``movies.csv``."""
    archive = paths["archive"]
    table = read_ratings(zip_member(archive, "ratings.csv"), RATING_TYPES)
    interactions = interactions_from(table, "userId", "movieId")
    del table
    movies = read_csv(zip_member(archive, "movies.csv"), ["movieId", "title", "genres"])
    links = read_csv(zip_member(archive, "links.csv"), ["movieId", "imdbId"])
    plots = read_csv(Source(paths["plots"]), PLOT_COLUMNS, optional=PLOT_OPTIONAL)
    features, report = join(movies, links, plots, interactions["item_id"])
    return Loaded(interactions, features, report)


def join(
    movies: pd.DataFrame, links: pd.DataFrame, plots: pd.DataFrame, rated: pd.Series | None = None
) -> tuple[pd.DataFrame, JoinReport]:
    """Gathered features of every movie: (item_id, text, described); the report counts matches per key."""
    movies = movies.assign(item_id=int_id(movies["movieId"])).dropna(subset=["item_id"])
    movies = movies.drop_duplicates("item_id").set_index("item_id")
    title, year = split_title_year(movies["title"])
    imdb_of_movie = pd.Series(imdb_key(links["imdbId"]).to_numpy(), index=int_id(links["movieId"]).to_numpy())
    imdb_of_movie = imdb_of_movie[~imdb_of_movie.index.duplicated()]
    left_imdb = imdb_of_movie.reindex(movies.index)
    left_title_year = norm_title(title) + "|" + year

    plots = plots.reset_index(drop=True)
    long = blank_to_na(plots["fullplot"]) if "fullplot" in plots else pd.Series(pd.NA, index=plots.index)
    plots["description"] = long.fillna(blank_to_na(plots["plot"]))
    plots = plots[plots["description"].notna()]
    right_imdb = imdb_key(plots["imdbID"])
    right_title_year = norm_title(plots["title"]) + "|" + year_of(plots["year"])

    matched, counts = cascade(
        movies.index,
        [("imdb id", [left_imdb], [right_imdb]), ("title+year", [left_title_year], [right_title_year])],
    )
    hit = take(plots, matched)

    def field(name: str) -> pd.Series:
        return hit[name] if name in hit else pd.Series(pd.NA, index=movies.index, dtype="str")

    genres = blank_to_na(movies["genres"]).str.replace("|", ", ", regex=False)
    genres = genres.mask(genres == "(no genres listed)").fillna(field("genre"))
    text = labelled_text(
        [
            ("Title", title),
            ("Year", year),
            ("Genres", genres),
            ("Director", field("director")),
            ("Cast", field("cast")),
            ("Plot", field("description")),
        ]
    )
    features = pd.DataFrame(
        {"item_id": movies.index.to_numpy(), "text": text.to_numpy(), "described": matched.notna().to_numpy()}
    )
    report = JoinReport(
        name="MovieLens-20M -> IMDB movies analysis (plots)",
        items=len(movies),
        matched=counts,
        unmatched=int(matched.isna().sum()),
    )
    labels = movies["title"]
    if rated is not None:  # most-rated movies first: the misses that matter
        order = rated.value_counts()
        labels = labels.reindex(order.index.intersection(labels.index, sort=False))
    report.unmatched_sample = unmatched_sample(labels, matched)
    return features, report
