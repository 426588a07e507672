"""Engine: the warehouse and its connections, scopes, settings, migrations, data versions and caches."""
