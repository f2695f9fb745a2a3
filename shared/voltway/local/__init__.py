"""The template-driven local runtime (``voltway local``): no Docker, no AWS account.

It reads ``template.yaml``, creates the declared resources in the embedded AWS emulator (moto server) or
whatever ``AWS_ENDPOINT_URL`` names, and plays API Gateway (WebSocket + HTTP), the Lambda service, SQS
event source mappings and EventBridge Scheduler. Never shipped to Lambda.

Entry points other code should use:

- :func:`voltway.local.template.load_template` - the parsed, resolved template.
- :func:`voltway.local.resources.provision` - create the template's tables/queues/buckets/topics.
- :class:`voltway.local.runtime.LocalRuntime` - the whole stack as a context manager.
"""
