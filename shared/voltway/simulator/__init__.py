"""``voltway simulate``: simulated OCPP 1.6J chargers for exercising and benchmarking the platform.

``runner.run_simulation`` drives N ``charger.SimulatedCharger`` over real WebSockets and returns
``stats.RunStats``; ``commands`` holds the table of central-system CALLs a charger answers; ``command`` is the
CLI. Development only: never shipped to Lambda.
"""
