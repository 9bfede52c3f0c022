"""Fake RabbitMQ-compatible AMQP 0-9-1 broker for tests."""
