"""The self-service account lifecycle: email verification, password
recovery, email change, and the pages their links open."""
