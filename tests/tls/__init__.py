"""TLS end to end: the client's options and errors, the fake broker's TLS listener, EXTERNAL."""
