"""Reporting: the trend, the reports page's sections, readiness evidence, the decisions
export, CSV and charts, split by reason to change. Definitions: ../shared/docs/product.md
("Metrics (exact definitions)").

Read side (reads only; imports `domain`, `selectors`, never `services`):
- `parameters.py`: a trend request's query parameters, checked (`parse_trend_request`);
- `buckets.py`: calendar buckets in a time zone and the numbers of one (`BucketStats`);
- `scope.py`: who may see which queues and reviewers, and the filters that follow;
- `trend.py`: the trend's computation (`trend_points`, `trend_for`), memo first;
- `tally.py`: additive counts whose closed part is cached per process;
- `sections.py`: reasons, most-edited fields, model and prompt versions, reviewers;
- `backlog.py`: open items per queue now; `flag_counts.py`: anomaly flags per queue;
- `readiness.py`: the evidence behind a queue's readiness (judged by domain/readiness.py);
- `report.py`: everything the reports page shows (`report_for`);
- `export.py`: decisions as streamed JSON Lines;
- for the page: `display.py` (rates, durations, labels, the tables), `charts.py` (SVG
  coordinates; one template partial draws every line chart), `csv_sections.py` (the CSV rows).

Writes (a service, like reviewqueue/services): `memo.py` is the only writer of the
MetricsBucket memo (`memo_save`, `memo_prune`); `warm.py` counts ahead (`metrics_warm`,
the beat task). `trend.py` remembers the closed buckets it counted through `memo.memo_save`
(a cache fill: correctness never depends on it).
"""
