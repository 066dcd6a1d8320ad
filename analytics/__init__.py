"""kaohe analytics: civil-servant assessment data, stored, ranked and checked.

A plain Python package (it never imports streamlit): the app in `pages/` and the command
line (`python -m analytics`) both call it. One module per concept:

- vocab        grades, annual grades, outcome kinds, periods
- schema/store the documented DuckDB tables and how to open them
- settings     local rules and thresholds (settings.toml)
- importer     reading real exports into the store
- demo         the realistic demo city with planted patterns
- lanes, rankings, quota, fair_score   like-with-like comparison
- detectors    rotation, leniency, compression, silent negatives, outliers, outcome rules
- outcomes     how results are used
- survey, sql_workspace, export        for researchers
"""

__version__ = "0.1.0"
