"""Receipts (one per CDR) and monthly invoices (one per business account): documents with a VAT
breakdown, rendered to PDF, stored in S3, downloadable through signed links and e-mailed
(docs/invoices.md)."""
