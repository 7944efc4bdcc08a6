"""Options of the project's own tests."""


def pytest_addoption(parser):
    parser.addoption(
        "--report", default=None, help="also check this built report (index.html) in headless Chromium (tox -e report)"
    )
