"""Settings shared by the browser tests and their fixtures."""

# The subprocesses (daphne, the worker) inherit os.environ; an empty value switches the check
# back on for them, so a real sync ORM call inside an async view still fails under test.
CHILD_ENV = {"DJANGO_ALLOW_ASYNC_UNSAFE": ""}
