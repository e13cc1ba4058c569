"""Reads of the calls app, one module per thing read; import from the module that holds a name.

- :mod:`calls.selectors.registry`: the call registry's records and source values (EXP-04/05).
- :mod:`calls.selectors.reports`: the facts of one run's report (EXP-08).
- :mod:`calls.selectors.search`: transcript search and the records admin's search box (CALL-21).
- :mod:`calls.selectors.overview`: the «Обзор звонков» admin page's period overview.
"""
