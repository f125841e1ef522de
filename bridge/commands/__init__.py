"""The ``bridge`` commands: ``run``, ``demo``, ``tail``, ``rebuild``, ``schemas``.

Each module is glue over the library modules: it turns the parsed arguments
(:mod:`bridge.cli` builds the parser) into calls and output, and returns the exit code. No
command imports another, and nothing outside :mod:`bridge.cli` imports a command.
"""
