"""The validation pack: user requirements traced to the tests that verify them (requirements.py), the
installation and operational qualification run by `atmp-hub validate`, and the report it writes."""
