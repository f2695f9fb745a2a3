"""Exports: finance-grade bulk exports of charging sessions and CDRs.

The pure writer core lives in :mod:`voltway.exports.xlsx`; it imports no AWS. The queue, API and S3
wiring plug into it through file-like objects.
"""
