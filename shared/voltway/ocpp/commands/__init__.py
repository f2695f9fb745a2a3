"""Platform-initiated OCPP 1.6J: commands the central system sends to chargers (CALLs), queued one
outstanding per charger (OCPP-J 1.6 section 4.1.1), correlated with the charger's CALLRESULT/CALLERROR
that arrives in a later invocation, with timeouts, offline handling and the "on accepted" effects.

Layout: ``catalog`` (which actions, how an answer maps to a status), ``model``, ``errors``, ``ports``,
``effects`` (the per-action table of what an accepted answer changes), ``service`` (the use cases),
``memory`` (in-memory twins of the ports), ``views`` (HTTP shapes).
"""
