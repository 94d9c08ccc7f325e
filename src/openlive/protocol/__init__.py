"""The Live protocol without I/O: messages, codec, errors, the session state machine."""
