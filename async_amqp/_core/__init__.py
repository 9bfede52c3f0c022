"""The sans-IO core of AMQP 0-9-1, shared by the client and the fake broker.

Synchronous and deterministic: it imports only pamqp and the standard
library, never reads a clock (time is passed in) and never touches a socket.
"""
