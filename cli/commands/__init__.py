"""One module per resource; ``cli/app.py`` wires their functions into the ``jobbers`` tree."""
