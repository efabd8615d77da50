"""Reports of one or more runs: `summary.md`, `report.html`, `attempts.jsonl` and `.csv`.

- `pooling.py`: a model's records across runs, as one run with its iterations end to end.
- `model.py`: what a report holds (`Report`), built from records by `build.py`.
- `rows.py`: one flat row per attempt, and the JSON Lines and CSV files of them.
- `markdown.py` and `html.py`: the two readable views (the page's charts: `plots.py`, drawn
  as inline SVG by `svg.py`); `writing.py` writes all four files.
- `loading.py`: a run from Redis, or from its result folder; `comparability.py`: what makes
  scores of different runs comparable.
"""
