"""Mail: an outbox written with the change that causes a message, and a
courier that delivers it after commit (api/mail/courier.py)."""
