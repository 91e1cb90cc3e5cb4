"""Passkeys (WebAuthn, SPEC §14): registered per account, used to sign in
alone (discoverable credentials) or as the second factor of a 2FA login."""
