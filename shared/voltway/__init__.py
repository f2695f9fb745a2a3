"""Voltway: the project's own library (domain + adapters), shipped to Lambda as a layer.

Subpackages that only serve development (``voltway.local``, ``voltway.simulator``, ``voltway.cli``,
``voltway.packaging``) are left out of the layer by ``voltway package``.
"""
