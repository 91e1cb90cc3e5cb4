"""The security event log: what happened to an account, for its owner and the operator."""
