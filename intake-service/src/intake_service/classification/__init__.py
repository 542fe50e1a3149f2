"""Classification rules: keyword tables per language (built in and a desk's own), matched
to give a complaint its category and the signals that raise its priority."""
