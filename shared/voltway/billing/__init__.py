"""Billing: tariff storage and selection, contract prices, and CDRs issued from finished transactions.

Pure domain code (no AWS): ports in ``voltway.billing.ports``, DynamoDB/SQS/S3 adapters in
``voltway.billing.aws``, in-memory twins in ``voltway.billing.memory``. See docs/billing.md.
"""
