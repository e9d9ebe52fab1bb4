"""MovieLens-100k, read from the recbole wheel where it ships (never copied anywhere).

The data's licence forbids redistributing it, so the project holds no copy:
``pip install --no-deps recbole==1.2.1`` installs it as package data, read
here with importlib.resources. 943 users, 1,682 movies, 100,000 ratings; every
rating counts as an interaction (the benchmark's implicit-feedback reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

DATASETS = ("ml-100k",)


class DatasetMissing(Exception):
    """The package that ships the data set is not installed."""


@dataclass(frozen=True, slots=True)
class Rating:
    user: str
    item: str
    at: float  # seconds since the epoch


@dataclass(frozen=True, slots=True)
class Movie:
    item: str
    title: str
    year: str | None
    genres: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    ratings: tuple[Rating, ...]
    movies: tuple[Movie, ...]


def _text(name: str) -> str:
    try:
        folder = resources.files("recbole") / "dataset_example" / "ml-100k"
        return (folder / name).read_text(encoding="latin-1")
    except ModuleNotFoundError as exc:
        raise DatasetMissing(
            "MovieLens-100k comes with the recbole package: pip install --no-deps recbole==1.2.1"
        ) from exc


def _rows(text: str) -> list[list[str]]:
    """Tab-separated rows after the header (recbole's atomic-file format)."""
    return [line.split("\t") for line in text.splitlines()[1:] if line.strip()]


def load(users: int | None = None) -> Dataset:
    """The data set; ``users`` keeps the first that many users (by id) and their movies."""
    ratings = [
        Rating(user, item, float(at)) for user, item, _rating, at in _rows(_text("ml-100k.inter"))
    ]
    if users is not None:
        kept = set(sorted({r.user for r in ratings}, key=int)[:users])
        ratings = [r for r in ratings if r.user in kept]
    movies = []
    for row in _rows(_text("ml-100k.item")):
        item, title, year = row[0], row[1], row[2] if len(row) > 2 else ""
        genres = tuple(row[3].split()) if len(row) > 3 else ()
        movies.append(Movie(item, title, year or None, genres))
    if users is not None:
        rated = {r.item for r in ratings}
        movies = [m for m in movies if m.item in rated]
    return Dataset(tuple(ratings), tuple(movies))
