"""What tests share besides fixtures: servers and databases, clocks, tenants, workers, data
factories and the API calls many tests make. Fixtures live in the conftest.py files and are
built from these; test modules import from here, never from a conftest."""
