"""Pure rules: decisions that depend only on what is passed in. No ORM queries, no writes, no
clock reads; models appear only as the values handed over (rows.py reads the relations its
callers have already loaded). Beside `reviewqueue/states.py`
(the enums and legal-moves tables), so selectors, reporting and services all read the same
rule without importing each other.

- `routing.py`: the effective stage and where an arriving item goes;
- `flags.py`: the anomaly flags of an arriving item;
- `readiness.py`: the gates for a queue's next stage, judged on evidence;
- `rows.py`: the unsaved Decision and Execution rows that more than one service writes;
- `decision_input.py`: the one check of a person's decision (review, blind, reported).
"""
