"""Fleet time limits: a contract caps each session; the platform stops it at the limit.

See docs/fleet-limits.md."""
