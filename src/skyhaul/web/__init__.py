"""The web view (``skyhaul serve``): a JSON API and live pages over the same services as
the CLI. Imported only by ``skyhaul serve`` and the tests: FastAPI stays out of start-up."""
