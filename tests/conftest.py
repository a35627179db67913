"""Real servers for every test: see parley_devstack.testing for where they come from."""

pytest_plugins = ["parley_devstack.testing"]
