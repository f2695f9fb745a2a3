"""Composition roots of exports: the API's export service and the queue functions' pipeline (kept out of
``voltway.adapters.roots`` so the OCPP functions never import the export code at a cold start)."""

from __future__ import annotations

import functools

from voltway.exports.aws import export_service, export_worker

cached_export_service = functools.cache(export_service)
cached_export_worker = functools.cache(export_worker)
