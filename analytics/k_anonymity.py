"""k-anonymity for the researcher's tables: no combination of quasi-identifiers names fewer than k people.

Quasi-identifiers are the attributes an outsider can know about a colleague (unit, section, rank,
gender, age band ...). Pseudonyms alone do not protect someone who is the only 女 · 50岁以上 ·
科级 in a unit. `k_anonymise` makes every combination hold >= k distinct people by local recoding:
for the rows in a too-small combination the most specific quasi-identifier is generalised (set to
NULL, which in the researcher's tables reads "unknown or generalised"), then the next one, unit last;
rows still in a too-small combination when every quasi-identifier is generalised are removed (suppressed).
Each pass is one window count over the columns, never a loop over rows.

Free text (意见建议 and other open answers) can name its author's situation, so for researchers it is
moved to its own table (`survey_comments`) with no respondent id and no attributes, sorted by text so
row order cannot link it back.
"""

from __future__ import annotations

import polars as pl

from analytics.settings import Privacy

# Assessment tables: generalised in this order (most specific first; unit is given up last).
PERSON_QUASI_IDENTIFIERS = Privacy().person_quasi_identifiers


def k_anonymise(frame: pl.DataFrame, person: list[str], quasi: list[str], k: int) -> pl.DataFrame:
    """`frame` with quasi-identifiers generalised (NULL) and rows suppressed until each combination has >= k people.

    `person`: the columns naming one person (distinct people are counted, not rows); `quasi`: the
    quasi-identifiers present, in the order they are generalised.

    >>> f = pl.DataFrame({"p": ["a", "b", "c"], "unit": ["x", "x", "x"], "sex": ["男", "男", "女"]})
    >>> k_anonymise(f, ["p"], ["sex", "unit"], k=2)["sex"].to_list()  # 女 alone: generalised, then too few
    ['男', '男']
    """
    quasi = [c for c in quasi if c in frame.columns]
    if not quasi or frame.height == 0:
        return frame
    key = pl.struct(person) if len(person) > 1 else pl.col(person[0])
    small = key.n_unique().over(quasi) < k
    for column in quasi:
        frame = frame.with_columns(pl.when(small).then(None).otherwise(pl.col(column)).alias(column))
    return frame.filter(~small)


def person_tables(
    tables: dict[str, pl.DataFrame], k: int, quasi: tuple[str, ...] = PERSON_QUASI_IDENTIFIERS
) -> dict[str, pl.DataFrame]:
    """quarterly and annual made k-anonymous together, so joining them by pseudonym reveals no more.

    A person whose row sits in a too-small combination has that quasi-identifier generalised in
    every row of both tables (decided over their union); rows still too small are then dropped per table.
    """
    names = [t for t in ("quarterly", "annual") if t in tables and tables[t].height]
    if not names:
        return tables
    quasi = [c for c in quasi if all(c in tables[t].columns for t in names)]
    union = pl.concat([tables[t].select("person_id", *quasi) for t in names], how="vertical_relaxed")
    generalised = {}
    for column in quasi:
        small = pl.col("person_id").n_unique().over(quasi) < k
        hit = union.filter(small).select("person_id").unique()
        generalised[column] = hit
        union = union.with_columns(
            pl.when(pl.col("person_id").is_in(hit["person_id"].implode()))
            .then(None)
            .otherwise(pl.col(column))
            .alias(column)
        )
    out = dict(tables)
    for t in names:
        frame = tables[t]
        for column, hit in generalised.items():
            frame = frame.with_columns(
                pl.when(pl.col("person_id").is_in(hit["person_id"].implode()))
                .then(None)
                .otherwise(pl.col(column))
                .alias(column)
            )
        out[t] = k_anonymise(frame, ["person_id"], quasi, k)
    return out


def respondents(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    """survey_respondents with unit and every attribute (性别, 年龄段, 职级 ...) k-anonymous, per survey.

    Attributes are generalised from the most varied (most specific) to the least; unit last. A
    generalised attribute stays in the row's JSON as null.
    """
    if frame.height == 0:
        return frame
    parts = []
    for _, part in frame.group_by(["import_id"], maintain_order=True):
        decoded = part.get_column("attributes").str.json_decode(infer_schema_length=None)
        fields = decoded.dtype.fields if isinstance(decoded.dtype, pl.Struct) else []
        if not fields:
            parts.append(k_anonymise(part, ["import_id", "respondent_id"], ["unit"], k))
            continue
        names = [f.name for f in fields]
        hidden = {n: f"\x1f{i}" for i, n in enumerate(names)}  # never clashes with a table column
        wide = part.with_columns(
            decoded.struct.unnest().select(pl.col(n).cast(pl.Utf8).alias(hidden[n]) for n in names)
        )
        order = sorted(names, key=lambda n: -wide.get_column(hidden[n]).n_unique())
        anon = k_anonymise(wide, ["import_id", "respondent_id"], [*(hidden[n] for n in order), "unit"], k)
        encoded = pl.struct(pl.col(hidden[n]).alias(n) for n in names).struct.json_encode()
        parts.append(anon.with_columns(encoded.alias("attributes")).drop(list(hidden.values())))
    return pl.concat(parts, how="vertical_relaxed")


def split_free_text(answers: pl.DataFrame, items: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(answers without free text, survey_comments): open answers apart from who wrote them.

    survey_comments holds (import_id, item_id, answer) only, sorted by text: nothing joins it to a respondent.
    """
    text_items = items.filter(pl.col("item_type") == "text").select("import_id", "item_id")
    on = ["import_id", "item_id"]
    comments = answers.join(text_items, on=on, how="semi", nulls_equal=True).select(*on, "answer").sort(on + ["answer"])
    rest = answers.join(text_items, on=on, how="anti", nulls_equal=True)
    return rest, comments
