"""Id tags (OCPP IdToken): the operator-managed list that answers Authorize and transaction starts."""
