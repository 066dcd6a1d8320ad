"""Staff surveys: ingest a survey sheet into the documented tables, and analyse it with the grade data.

`ingest` detects item types and scales and reshapes a sheet into `survey_items`, `survey_respondents`
and `survey_answers`; `analysis` answers the researcher's questions (distributions, cross-tabs, means with
intervals, Cronbach's alpha, free-text search, and survey trust joined with detector flags per unit).
"""

from analytics.survey.ingest import ITEM_TYPES, SCALE_FAMILIES, apply_item_types, detect_items, survey_tables

__all__ = ["ITEM_TYPES", "SCALE_FAMILIES", "apply_item_types", "detect_items", "survey_tables"]
