"""Side effects through an outbox: liaison email, webhooks, replies to citizens."""
