"""The project's own tests. pytester runs the plugin in throwaway pytest sessions."""

pytest_plugins = ["pytester"]
