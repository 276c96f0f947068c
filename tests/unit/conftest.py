"""The unit tier's settings.

hypothesis's per-example deadline (200 ms) is off: on a shared machine running the e2e tier
beside it, an example of a few milliseconds sometimes took longer and failed a test that
checks no timing. Speed is measured in bench/, never here."""

from hypothesis import settings

settings.register_profile("unit", deadline=None)
settings.load_profile("unit")
