"""Notifications: transactional e-mails (receipts, export ready), delivered from a queue."""
