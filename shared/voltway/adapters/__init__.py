"""Adapters: the AWS side of the ports (DynamoDB via PynamoDB, API Gateway management API, SNS),
and the per-function composition roots that wire them from configuration."""
